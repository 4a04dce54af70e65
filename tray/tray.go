//go:build ((linux || freebsd || openbsd || netbsd) && !android) || windows || (darwin && cgo)

package tray

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/systray"
)

// started guards Run: fyne.io/systray is one tray per process.
var started atomic.Bool

// Run shows the tray until ctx ends, or the user chooses Quit and
// opts.Quit is nil, and returns nil then. It returns an error wrapping ErrUnavailable, at once, when
// there is no tray to show (no graphical session); the caller then goes on
// headless. It must be called on the main goroutine: macOS and Windows run
// their event loop there. Run owns every goroutine it starts and has
// stopped them all when it returns.
func Run(ctx context.Context, c Client, opts Options) error {
	note, err := checkHost()
	if err != nil {
		return err
	}
	if !started.CompareAndSwap(false, true) {
		return errors.New("tray: Run was already called in this process (one tray per process)")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if note != "" && opts.Notice != nil {
		opts.Notice(note)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := &ui{client: c, opts: opts, quit: cancel, built: make(chan struct{}), exported: make(chan struct{})}

	// The tray is taken down only once every goroutine that writes to it
	// has stopped, so none writes to a closed connection.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); u.serve(ctx) }()
	go func() {
		<-ctx.Done()
		wg.Wait()
		close(stop)
	}()
	runLoop(u.build, u.exported, stop)
	cancel()
	wg.Wait()
	return nil
}

// ui is the running tray: the menu items and the client behind them.
type ui struct {
	client Client
	opts   Options
	quit   context.CancelFunc

	items    [numItems]*systray.MenuItem
	built    chan struct{} // closed once build made the items
	exported chan struct{} // closed by runLoop once the tray is on the desktop

	// held is the item type of each held slot as last shown: what a
	// click on its answers answers.
	mu   sync.Mutex
	held [heldSlots]string
}

// build makes the menu, in item order, everything hidden but the first
// item and Quit; apply shows the rest once the agent's status is known.
func (u *ui) build() {
	v := viewOf(nil, time.Now(), time.Local)
	systray.SetIcon(iconBytes(v.icon))
	systray.SetTitle(v.title)
	systray.SetTooltip(v.tooltip)
	for it := range numItems {
		e := v.items[it]
		u.items[it] = systray.AddMenuItem(e.label, e.tooltip)
		if !e.enabled {
			u.items[it].Disable()
		}
		if !e.visible {
			u.items[it].Hide()
		}
		if separatorAfter[it] {
			systray.AddSeparator()
		}
	}
	close(u.built)
}

// serve runs the tray's work until ctx ends: the clicks, the actions they
// start (one at a time, in order), and the watch of the agent's status.
func (u *ui) serve(ctx context.Context) {
	select {
	case <-u.built:
	case <-ctx.Done():
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	actions := make(chan item, 8)
	for it := range numItems {
		ch := u.items[it].ClickedCh
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					if it == itemQuit && u.opts.Quit != nil {
						u.opts.Quit()
						continue
					} else if it == itemQuit {
						u.quit()
						return
					}
					select {
					case actions <- it:
					default: // clicks faster than the agent answers: drop
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case it := <-actions:
				u.act(ctx, it)
			}
		}
	}()
	select {
	case <-u.exported:
	case <-ctx.Done():
		return
	}
	u.watch(ctx)
}

// act carries out a click.
func (u *ui) act(ctx context.Context, it item) {
	var err error
	what := u.items[it].String()
	switch it {
	case itemSyncNow:
		err = u.client.SyncNow(ctx)
	case itemPause:
		err = u.client.Pause(ctx)
	case itemResume:
		err = u.client.Resume(ctx)
	case itemHeldConfirm0, itemHeldKeep0, itemHeldConfirm1, itemHeldKeep1:
		slot := int(it-itemHeld0) / 3
		_, confirm, _ := heldItems(slot)
		u.mu.Lock()
		typ := u.held[slot]
		u.mu.Unlock()
		if typ == "" {
			return // hidden since the click
		}
		err = u.client.AnswerDeletions(ctx, typ, it == confirm)
	case itemPair0, itemPair1, itemPair2, itemReauthMicrosoft, itemReauthVantagepoint, itemActivate, itemOptions:
		// Approval, re-authorization and what activation needs all
		// happen on the Sync Options page, signed in by a one-time
		// address.
		var url string
		if url, err = u.client.OpenURL(ctx); err == nil && u.opts.OpenBrowser != nil {
			// The page opens at the screen of the item: the activation,
			// or the re-authorization of one account.
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			switch it {
			case itemActivate:
				url += sep + "v=activate"
			case itemReauthMicrosoft:
				url += sep + "v=microsoft"
			case itemReauthVantagepoint:
				url += sep + "v=vantagepoint"
			}
			err = u.opts.OpenBrowser(ctx, url)
		}
	default:
		return
	}
	if err != nil && ctx.Err() == nil {
		u.opts.Log.Warn("tray action failed", "item", what, "err", err)
	}
}

// watch follows the agent's status and applies it, reconnecting when the
// agent goes away (it restarts in place after an activation): at once the
// first time, then backing off from 200 ms to 5 s while it cannot be
// reached.
func (u *ui) watch(ctx context.Context) {
	var shown view
	applied := false
	show := func(s *Status) {
		v := viewOf(s, time.Now(), time.Local)
		u.mu.Lock()
		u.held = v.held
		u.mu.Unlock()
		u.apply(v, shown, !applied)
		shown, applied = v, true
	}
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		ch, err := u.client.Watch(ctx)
		if err != nil {
			show(nil)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
	stream:
		for {
			select {
			case <-ctx.Done():
				for range ch { // the client's goroutine ends with ctx
				}
				return
			case s, ok := <-ch:
				if !ok {
					break stream
				}
				show(&s)
			}
		}
		show(nil)
	}
}

// apply writes a view to the desktop, touching only what changed (each
// change is a D-Bus signal on Linux). The first item, the state, is written
// last: a panel that sees the new state sees the whole menu of that state.
func (u *ui) apply(v, old view, all bool) {
	if all || v.icon != old.icon {
		systray.SetIcon(iconBytes(v.icon))
	}
	if all || v.title != old.title {
		systray.SetTitle(v.title)
	}
	if all || v.tooltip != old.tooltip {
		systray.SetTooltip(v.tooltip)
	}
	for it := numItems - 1; it > itemState; it-- {
		applyItem(u.items[it], v.items[it], old.items[it], all)
	}
	applyItem(u.items[itemState], v.items[itemState], old.items[itemState], all)
}

// applyItem writes one item, its label last (see apply).
func applyItem(mi *systray.MenuItem, e, o entry, all bool) {
	if all || e.tooltip != o.tooltip {
		mi.SetTooltip(e.tooltip)
	}
	if all || e.enabled != o.enabled {
		if e.enabled {
			mi.Enable()
		} else {
			mi.Disable()
		}
	}
	if all || e.visible != o.visible {
		if e.visible {
			mi.Show()
		} else {
			mi.Hide()
		}
	}
	if all || e.label != o.label {
		mi.SetTitle(e.label)
	}
}
