package blobstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// OptionsFromConnectionString takes the account, its key and the blob endpoint from
// a storage connection string. The key is required: it signs the service SAS URLs.
// Errors never quote the string, which holds the key.
func OptionsFromConnectionString(cs string) (Options, error) {
	fields := map[string]string{}
	for part := range strings.SplitSeq(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[strings.ToLower(k)] = v
		}
	}
	o := Options{
		AccountName: fields["accountname"],
		AccountKey:  fields["accountkey"],
		Endpoint:    fields["blobendpoint"],
	}
	if o.AccountName == "" || o.AccountKey == "" {
		return Options{}, errors.New("the connection string needs AccountName and AccountKey (the key signs access URLs)")
	}
	if o.Endpoint == "" {
		protocol, suffix := fields["defaultendpointsprotocol"], fields["endpointsuffix"]
		if protocol == "" {
			protocol = "https"
		}
		if suffix == "" {
			suffix = "core.windows.net"
		}
		o.Endpoint = fmt.Sprintf("%s://%s.blob.%s/", protocol, o.AccountName, suffix)
	}
	if u, err := url.Parse(o.Endpoint); err != nil || u.Host == "" {
		return Options{}, errors.New("the connection string has an invalid BlobEndpoint")
	}
	return o, nil
}
