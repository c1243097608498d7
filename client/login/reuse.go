package login

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// refreshMargin is how long before expiry a reused token is replaced, so that a
// request never leaves with a token about to lapse.
const refreshMargin = 5 * time.Minute

// reusingCredential keeps the last token of a credential that has no cache of its
// own (the Azure CLI one) and hands it out again for the same scopes.
type reusingCredential struct {
	cred azcore.TokenCredential
	now  func() time.Time

	mu     sync.Mutex
	scopes []string
	token  azcore.AccessToken
}

func newReusingCredential(cred azcore.TokenCredential) *reusingCredential {
	return &reusingCredential{cred: cred, now: time.Now}
}

func (r *reusingCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fresh := r.token.ExpiresOn.After(r.now().Add(refreshMargin))
	if fresh && slices.Equal(r.scopes, opts.Scopes) && opts.Claims == "" {
		return r.token, nil
	}
	tok, err := r.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, err
	}
	r.scopes, r.token = slices.Clone(opts.Scopes), tok
	return tok, nil
}
