package cli

import (
	"context"

	"github.com/spf13/pflag"
)

func storageAccountCommand() command {
	return command{
		name:    "storage-account",
		args:    "list",
		summary: "list the server's storage accounts and their locations",
		about: `Prints the storage accounts new buffers can be placed in, as a JSON array of
{"name", "location", "endpoint"}. 'spool buffer create --location L' picks one of
location L. 'storage-accounts' is accepted too, as in Tyger's CLI.`,
		example: "  spool buffer storage-account list",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if len(args) != 1 || args[0] != "list" {
					return usagef("buffer storage-account", "the only storage-account command is 'list'")
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				accounts, err := c.StorageAccounts(ctx)
				if err != nil {
					return err
				}
				return a.printJSON(accounts)
			}
		},
	}
}
