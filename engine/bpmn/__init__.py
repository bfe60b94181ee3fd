"""How is a diagram read? Safe XML parsing, the Camunda dialect (text rewriting, parser), restricted
expressions, generated forms, validation before deployment, and the deployments table with its parsed-spec
cache. Uses `store`, `audit`, `org`, `timing`; never the runtime."""
