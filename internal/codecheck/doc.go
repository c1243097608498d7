// Package codecheck holds tests that pin the house rules the whole module keeps:
// short functions and a doc comment on every package. It has no code of its own.
package codecheck
