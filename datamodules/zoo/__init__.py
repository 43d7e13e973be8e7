"""The embedded zoo: small generators really trained here on CPU, and the splits that serve them."""
