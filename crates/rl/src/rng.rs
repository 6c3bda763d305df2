//! The seeded random source every learner uses, so that runs reproduce and learners
//! serialise with their random state.

/// xoshiro256++: fast, portable (the same stream on every platform and rand version),
/// and serialisable, so a saved learner resumes the same random sequence.
pub type Rng = rand::rngs::Xoshiro256PlusPlus;

/// A generator seeded from `seed`.
pub fn seeded(seed: u64) -> Rng {
    <Rng as rand::SeedableRng>::seed_from_u64(seed)
}
