package storetest

import (
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

var userCases = rules([]rule[userRoles]{
	{"User/RoundTripsByIDAndEmail", func(t *testing.T, s userRoles) {
		sv := newServer(t, s, "acme")
		want := &store.User{ID: "u1", ServerID: sv.ID, Email: "ada@example.com", PasswordHash: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", CreatedAt: t0}
		noErr(t, "CreateUser", s.CreateUser(t.Context(), want))
		got, err := s.User(t.Context(), sv.ID, "u1")
		noErr(t, "User", err)
		equal(t, "User", got, want)
		got, err = s.UserByEmail(t.Context(), sv.ID, "ada@example.com")
		noErr(t, "UserByEmail", err)
		equal(t, "UserByEmail", got, want)
	}},
	{"User/ZeroCreatedAtRoundTrips", func(t *testing.T, s userRoles) {
		sv := newServer(t, s, "acme")
		want := &store.User{ID: "u1", ServerID: sv.ID, Email: "a@example.com", PasswordHash: "h"}
		noErr(t, "CreateUser", s.CreateUser(t.Context(), want))
		got, err := s.User(t.Context(), sv.ID, "u1")
		noErr(t, "User", err)
		equal(t, "User", got, want)
	}},
	{"User/DuplicateEmailOnOneServerConflicts", func(t *testing.T, s userRoles) {
		sv := newServer(t, s, "acme")
		newUser(t, s, sv.ID, "ada@example.com")
		err := s.CreateUser(t.Context(), &store.User{ID: "another", ServerID: sv.ID, Email: "ada@example.com", PasswordHash: "h"})
		wantErr(t, "second CreateUser with the same email", err, store.ErrConflict)
	}},
	{"User/SameEmailOnTwoServersIsTwoAccounts", func(t *testing.T, s userRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		ua := newUser(t, s, a.ID, "ada@example.com")
		ub := newUser(t, s, b.ID, "ada@example.com")
		if ua.ID == ub.ID {
			t.Fatal("fixture made equal ids")
		}
		got, err := s.UserByEmail(t.Context(), a.ID, "ada@example.com")
		noErr(t, "UserByEmail(a)", err)
		equal(t, "user on A", got.ID, ua.ID)
		got, err = s.UserByEmail(t.Context(), b.ID, "ada@example.com")
		noErr(t, "UserByEmail(b)", err)
		equal(t, "user on B", got.ID, ub.ID)
		noErr(t, "UpdateUserPassword(b)", s.UpdateUserPassword(t.Context(), b.ID, ub.ID, "new"))
		got, err = s.User(t.Context(), a.ID, ua.ID)
		noErr(t, "User(a)", err)
		equal(t, "A's password after changing B's", got.PasswordHash, ua.PasswordHash)
	}},
	{"User/IsolatedPerServer", func(t *testing.T, s userRoles) {
		a, b := newServer(t, s, "a"), newServer(t, s, "b")
		u := newUser(t, s, a.ID, "ada@example.com")
		_, err := s.User(t.Context(), b.ID, u.ID)
		wantErr(t, "server A's user by id under server B", err, store.ErrNotFound)
		_, err = s.UserByEmail(t.Context(), b.ID, "ada@example.com")
		wantErr(t, "server A's user by email under server B", err, store.ErrNotFound)
		err = s.UpdateUserPassword(t.Context(), b.ID, u.ID, "stolen")
		wantErr(t, "UpdateUserPassword of A's user under B", err, store.ErrNotFound)
		got, err := s.User(t.Context(), a.ID, u.ID)
		noErr(t, "User", err)
		equal(t, "password after cross-tenant update attempt", got.PasswordHash, u.PasswordHash)
	}},
	{"User/UnknownNotFound", func(t *testing.T, s userRoles) {
		sv := newServer(t, s, "acme")
		_, err := s.User(t.Context(), sv.ID, "nope")
		wantErr(t, "User(unknown)", err, store.ErrNotFound)
		_, err = s.UserByEmail(t.Context(), sv.ID, "nope@example.com")
		wantErr(t, "UserByEmail(unknown)", err, store.ErrNotFound)
		wantErr(t, "UpdateUserPassword(unknown)", s.UpdateUserPassword(t.Context(), sv.ID, "nope", "h"), store.ErrNotFound)
	}},
	{"User/UpdatePasswordReplacesHash", func(t *testing.T, s userRoles) {
		sv := newServer(t, s, "acme")
		u := newUser(t, s, sv.ID, "ada@example.com")
		noErr(t, "UpdateUserPassword", s.UpdateUserPassword(t.Context(), sv.ID, u.ID, "$2a$10$new"))
		got, err := s.User(t.Context(), sv.ID, u.ID)
		noErr(t, "User", err)
		want := *u
		want.PasswordHash = "$2a$10$new"
		equal(t, "user", got, &want)
	}},
})
