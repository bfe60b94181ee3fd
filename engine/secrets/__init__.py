"""Whose identity is kept how? The data keys (`keys`: AES-GCM, the blind-index key, the key file or
`XINFANG_DATA_KEY`) and the reporter vault (`vault`: sealed reporter fields, blind-indexed names, encrypted
attachments, rotation and retention purge). Uses `store`, `audit`."""
