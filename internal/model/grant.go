package model

import "time"

// Grant is one access URL handed out for a buffer: an entry in its audit trail.
type Grant struct {
	// ID tells apart grants of the same buffer in the same instant; the handler makes
	// it like a buffer ID.
	ID        string    `json:"id"`
	BufferID  string    `json:"bufferId"`
	GrantedAt time.Time `json:"grantedAt"`
	// Writeable is true for a create+read URL, false for a read-only one.
	Writeable bool `json:"writeable"`
	// ExpiresAt is when the URL stops working.
	ExpiresAt time.Time `json:"expiresAt"`
	Caller    Caller    `json:"caller"`
}

// Caller says who was granted access, as far as the server could tell.
type Caller struct {
	// Method is how the caller proved itself: CallerBearerToken, CallerFunctionKey
	// or CallerAppServiceAuth.
	Method string `json:"method"`
	// ObjectID, AppID, TenantID and Name come from a verified token (oid; azp or
	// appid; tid; preferred_username or upn) or from App Service authentication.
	ObjectID string `json:"objectId,omitempty"`
	AppID    string `json:"appId,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
	Name     string `json:"name,omitempty"`
}

// Ways a caller proves itself.
const (
	CallerBearerToken    = "bearer token"
	CallerFunctionKey    = "function key"
	CallerAppServiceAuth = "app service authentication"
)

// GrantQuery asks for one page of a buffer's grants, newest first.
type GrantQuery struct {
	BufferID string
	Limit    int
	// Continuation is the opaque token from an earlier page; empty starts at the newest.
	Continuation string
}

// GrantPage is one page of grants; an empty Continuation means no more pages.
type GrantPage struct {
	Items        []Grant
	Continuation string
}

// GrantList is the body of GET /buffers/{id}/audit.
type GrantList struct {
	Items    []Grant `json:"items"`
	NextLink string  `json:"nextLink,omitempty"`
}
