"""OAuth 2.0 connect flow and token lifecycle for integrations whose provider uses OAuth."""
