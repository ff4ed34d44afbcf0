"""The outbound path: intake → rules → deliveries → dispatcher → attempts."""
