package agent

import (
	"log/slog"

	"vpconnect/agent/config"
	"vpconnect/syncer"
)

// EngineOptions are the sync rules of the configuration for the employee:
// the one mapping from config to engine, used by 'vpconnect run',
// activation, the demo and the agent bench alike.
func EngineOptions(cfg config.Config, employee string, log *slog.Logger) syncer.Options {
	return syncer.Options{
		Category: cfg.Sync.Category, EmailType: cfg.Sync.EmailType, MailFolders: cfg.Sync.MailFolders,
		LookbackDays: cfg.Sync.LookbackDays, Employee: employee, ContactFolder: cfg.Sync.ContactFolder,
		DaysAhead: cfg.Sync.DaysAhead, CalendarTypes: cfg.Sync.CalendarTypes, Conflict: cfg.Sync.Conflict,
		CreateFirms: cfg.Sync.CreateFirms,
		Mark:        syncer.MailboxMark{URL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database, Employee: employee},
		Logger:      log,
	}
}
