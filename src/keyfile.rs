//! Reading key files (PEM flavours, JWK, Tezos base58) into key types. (Issue 2.)
