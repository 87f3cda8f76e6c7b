package oauth

import "github.com/mcp-obs/mcp-obs/internal/platform/oautherr"

// The authorization server's own error answers, written by oautherr.Write
// like every JSON error of the platform.

// serverError is the answer when storage fails: never an OAuth verdict, so a
// client retries instead of discarding its grant.
func serverError() *oautherr.Error {
	return oautherr.ServerError("the request could not be completed; try again")
}

// notAForm is the answer to a body parseForm refused.
func notAForm() *oautherr.Error {
	return oautherr.BadRequest("invalid_request", "the body must be a form (application/x-www-form-urlencoded) of at most 64 KiB")
}

// oneToken is the answer to an introspection or revocation request without
// exactly one token.
func oneToken() *oautherr.Error {
	return oautherr.BadRequest("invalid_request", "exactly one token is required")
}
