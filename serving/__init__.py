"""Export (signatures, TF Serving layout, atomic publish), REST client and server, video classification."""
