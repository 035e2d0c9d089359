// Space Invoices' Stripe Connect: the account's Connect config, one Connect account per organization, onboarding links and invoice payment data.
package spaceinvoices
