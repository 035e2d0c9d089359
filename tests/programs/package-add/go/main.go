// Stripe Connect and one organization's account on the SDK `pulumi package add` generated.
// Config: spaceinvoices:apiUrl, spaceinvoices:accessToken (secret) for the default provider;
// stripeSecretKey (secret), organizationId, applicationFee (default 1.5).
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/spaceinvoices/pulumi-spaceinvoices/sdk/go/spaceinvoices"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		fee, err := cfg.TryFloat64("applicationFee")
		if err != nil {
			fee = 1.5
		}
		connect, err := spaceinvoices.NewStripeConnectConfig(ctx, "connect", &spaceinvoices.StripeConnectConfigArgs{
			PrivateKey:     cfg.RequireSecret("stripeSecretKey"),
			PublicKey:      pulumi.String("pk_test_PackageAdd0000"),
			ApplicationFee: pulumi.Float64(fee),
			RefreshUrl:     pulumi.String("https://platform.example.com/onboarding/refresh"),
			ReturnUrl:      pulumi.String("https://platform.example.com/onboarding/return"),
		})
		if err != nil {
			return err
		}
		acme, err := spaceinvoices.NewOrganizationConnectAccount(ctx, "acme", &spaceinvoices.OrganizationConnectAccountArgs{
			OrganizationId: pulumi.String(cfg.Require("organizationId")),
		}, pulumi.DependsOn([]pulumi.Resource{connect}))
		if err != nil {
			return err
		}
		ctx.Export("chargesEnabled", acme.ChargesEnabled)
		return nil
	})
}
