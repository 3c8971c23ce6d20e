"""Who is asking (authentication) and what they may do (policy); the Catalog service decides, faces only ask."""
