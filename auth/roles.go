package auth

import "slices"

// Permission is one kind of thing a caller may do to buffers.
type Permission string

// Permissions, one per kind of route.
const (
	ReadBuffers    Permission = "buffers.read"    // show, list, count
	ReadAccess     Permission = "access.read"     // read-only access URLs
	CreateBuffers  Permission = "buffers.create"  // create
	UpdateBuffers  Permission = "buffers.update"  // set tags and expiry
	WriteAccess    Permission = "access.write"    // writeable access URLs
	DeleteBuffers  Permission = "buffers.delete"  // soft-delete one buffer
	RestoreBuffers Permission = "buffers.restore" // restore one soft-deleted buffer
	PurgeBuffers   Permission = "buffers.purge"   // schedule a soft-deleted buffer's purge
	BulkOperations Permission = "buffers.bulk"    // delete or restore by tag filter
	ReadAudit      Permission = "audit.read"      // a buffer's trail of access grants
)

// Roles, as app roles in the token's `roles` claim. Owner and Contributor have the
// values Tyger's app registration uses, so Tyger's tokens work unchanged.
const (
	RoleReader      = "reader"
	RoleContributor = "contributor"
	RoleOwner       = "owner"
)

var (
	readerPermissions      = []Permission{ReadBuffers, ReadAccess}
	contributorPermissions = append(slices.Clone(readerPermissions), CreateBuffers, UpdateBuffers, WriteAccess)
	ownerPermissions       = append(slices.Clone(contributorPermissions),
		DeleteBuffers, RestoreBuffers, PurgeBuffers, BulkOperations, ReadAudit)
)

// rolePermissions says what each role may do; each role includes the one before.
// Roles not listed here grant nothing.
var rolePermissions = map[string][]Permission{
	RoleReader:      readerPermissions,
	RoleContributor: contributorPermissions,
	RoleOwner:       ownerPermissions,
}

// Allowed says whether p holds a role granting perm. A nil principal holds nothing.
func Allowed(p *Principal, perm Permission) bool {
	if p == nil {
		return false
	}
	for _, role := range p.Roles {
		if slices.Contains(rolePermissions[role], perm) {
			return true
		}
	}
	return false
}

// PermissionsOf lists what p may do, in the order of the constants above.
func PermissionsOf(p *Principal) []Permission {
	var out []Permission
	for _, perm := range ownerPermissions {
		if Allowed(p, perm) {
			out = append(out, perm)
		}
	}
	return out
}
