// The native-provider lifecycle program (../yaml/Pulumi.yaml) on the generated Go SDK.
// Config: apiUrl, accessToken (secret), stripeSecretKey (secret), organizationId, onboardingUrl,
// onboardingSigningKey (secret), applicationFee
// (default 1.5), accountActive (default true), shareableId (export the invoice's payment data).
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
		active, err := cfg.TryBool("accountActive")
		if err != nil {
			active = true
		}

		// example: Provider
		account, err := spaceinvoices.NewProvider(ctx, "account", &spaceinvoices.ProviderArgs{
			AccessToken:          cfg.RequireSecret("accessToken"),
			ApiUrl:               pulumi.String(cfg.Require("apiUrl")),
			OnboardingUrl:        pulumi.String(cfg.Require("onboardingUrl")),
			OnboardingSigningKey: cfg.RequireSecret("onboardingSigningKey"),
		})
		if err != nil {
			return err
		}
		// end example
		// example: StripeConnectConfig
		connect, err := spaceinvoices.NewStripeConnectConfig(ctx, "connect", &spaceinvoices.StripeConnectConfigArgs{
			PrivateKey:     cfg.RequireSecret("stripeSecretKey"),
			PublicKey:      pulumi.String("pk_test_NativeLifecycle0000"),
			ApplicationFee: pulumi.Float64(fee),
			RefreshUrl:     pulumi.String("https://platform.example.com/onboarding/refresh"),
			ReturnUrl:      pulumi.String("https://platform.example.com/onboarding/return"),
		}, pulumi.Provider(account))
		if err != nil {
			return err
		}
		// end example
		// example: OrganizationConnectAccount
		acme, err := spaceinvoices.NewOrganizationConnectAccount(ctx, "acme", &spaceinvoices.OrganizationConnectAccountArgs{
			OrganizationId: pulumi.String(cfg.Require("organizationId")),
			Active:         pulumi.Bool(active),
		}, pulumi.Provider(account), pulumi.DependsOn([]pulumi.Resource{connect}))
		if err != nil {
			return err
		}
		// end example
		// example: OnboardingLink
		acmeLink, err := spaceinvoices.NewOnboardingLink(ctx, "acmeLink", &spaceinvoices.OnboardingLinkArgs{
			OrganizationId: acme.OrganizationId,
		}, pulumi.Provider(account))
		if err != nil {
			return err
		}
		// end example
		// example: getOnboardingEntryUrl
		acmeEntry := spaceinvoices.GetOnboardingEntryUrlOutput(ctx, spaceinvoices.GetOnboardingEntryUrlOutputArgs{
			OrganizationId: acme.OrganizationId,
		}, pulumi.Provider(account))
		// end example

		ctx.Export("spaceInvoicesFee", connect.SpaceInvoicesFee)
		ctx.Export("chargesEnabled", acme.ChargesEnabled)
		ctx.Export("onboardingUrl", acmeLink.Url)
		ctx.Export("onboardingComplete", acmeLink.OnboardingComplete)
		ctx.Export("entryUrl", acmeEntry.Url())

		if shareableID := cfg.Get("shareableId"); shareableID != "" {
			// example: getPaymentIntent
			payment := spaceinvoices.GetPaymentIntentOutput(ctx, spaceinvoices.GetPaymentIntentOutputArgs{
				ShareableId: pulumi.String(shareableID),
			}, pulumi.Provider(account), pulumi.DependsOn([]pulumi.Resource{acme}))
			ctx.Export("paymentIntentId", payment.PaymentIntentId())
			ctx.Export("clientSecret", payment.ClientSecret())
			// end example
		}
		return nil
	})
}
