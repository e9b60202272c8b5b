//! Signing requests for tests and benches, built from the test vectors.

/// A Tenderbake block at level 1331, round 0, no locked round (0x11, mainnet;
/// tests/vectors/requests.json).
pub const BLOCK_VECTOR: &str = "117a06a77000000533010e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8000000005e9dcbb00442e9bc4583d4f9fa6ba422733f45d3a44397141a953d2237bf8df62e5046eef700000021000000010200000004000005330000000000000004ffffffff00000004000000004c7319284b55068bb7c4e0b9f8585729db7fb27ab4ca9cff2038a1fc324f650c000000000000000000000000000000000000000000000000000000000000000000000000101895ca000000000002";

/// The vector block on `chain`, moved to `level` (header and fitness) with `round`, `payload`
/// varying the payload hash; as hex.
pub fn block(chain: [u8; 4], level: i32, round: i32, payload: u8) -> String {
    let mut b = hex::decode(BLOCK_VECTOR).expect("vector hex");
    b[1..5].copy_from_slice(&chain);
    b[5..9].copy_from_slice(&level.to_be_bytes());
    b[96..100].copy_from_slice(&level.to_be_bytes());
    b[116..120].copy_from_slice(&round.to_be_bytes());
    // Payload hash: after the context hash (32), which follows the fitness (ends at 120).
    b[152..184].copy_from_slice(&[payload; 32]);
    hex::encode(b)
}
