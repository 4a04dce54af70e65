package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"vpconnect/syncer/vantagepoint/vpsim"
)

// "Allow Password Grant Type" off on the API authorization: the sign-in
// ends with the switch to turn on, not a retry.
func TestVantagepointPasswordGrantOffNamesTheSwitch(t *testing.T) {
	v := vpsim.New(vpsim.Options{Database: "VPTest", ClientID: "vpc", ClientSecret: "vpc-secret", NoPasswordGrant: true})
	srv := httptest.NewServer(v)
	t.Cleanup(srv.Close)
	v.AddUser("jdoe", "pw", "E001")
	app := VantagepointApp{APIURL: srv.URL + vpsim.APIPath, Database: "VPTest", ClientID: "vpc", ClientSecret: "vpc-secret"}
	_, err := app.SignIn(context.Background(), "jdoe", "pw")
	var sr *SignInRequiredError
	if !errors.As(err, &sr) || !strings.Contains(sr.Fix, "Allow Password Grant Type") {
		t.Fatalf("err = %v", err)
	}
}
