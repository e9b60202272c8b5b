//! BLAKE2b digests used by Tezos: 256-bit for signing, 160-bit for key hashes.

use blake2::digest::consts::{U20, U32};
use blake2::{Blake2b, Digest};

/// BLAKE2b-256 of `data`: what every Tezos signature signs.
pub fn blake2b_256(data: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(data).into()
}

/// BLAKE2b with a 20-byte output (not a truncated 32-byte hash): public key hashes.
pub fn blake2b_160(data: &[u8]) -> [u8; 20] {
    Blake2b::<U20>::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // Vector from shared/vectors/requests.json (preattestation).
        let req = hex::decode("127a06a7700e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a814000000000533000000000000000000000000000000000000000000000000000000000000000000000000").unwrap();
        assert_eq!(
            hex::encode(blake2b_256(&req)),
            "11e8f192039a4e9507f8566ed6284fa5e0e9469da9f3eb15ffc7072c5e75e0e1"
        );
        let pk = hex::decode("027d4fb1bd6eb3ee2a2e65fe4dd2fbc987a38a391ec23fbfbc878e95b2c8386003")
            .unwrap();
        assert_eq!(
            hex::encode(blake2b_160(&pk)),
            "c6e57bc37f3f1f36da594339e171ed31ce8b8530"
        );
    }
}
