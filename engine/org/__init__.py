"""Who is who, and who may see what? Roles, departments, users and their actors; password accounts; the
administrators' operations; the read scope of every query (`access`). Uses `store`, `audit`, `timing`."""
