//! Password hashes: argon2id with the OWASP-recommended parameters (19 MiB,
//! two passes, one lane — the argon2 crate's defaults), stored as PHC
//! strings so the parameters travel with each hash.

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};

/// The shortest password accepted. NIST SP 800-63B §3.1.1.2 requires at
/// least 8 characters; we ask for 10, as mail passwords live long.
pub const MIN_CHARS: usize = 10;
/// The longest accepted: long enough for any passphrase, short enough that
/// hashing one is not a denial of service. Nothing is ever truncated.
pub const MAX_BYTES: usize = 1024;

/// Why a password was not accepted or could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is too short: {chars} characters, at least {MIN_CHARS} are needed")]
    TooShort { chars: usize },
    #[error("the password is too long: {bytes} bytes, at most {MAX_BYTES} are accepted (nothing is truncated)")]
    TooLong { bytes: usize },
    #[error(
        "the password contains a control character (a line break or NUL, perhaps from a file?)"
    )]
    ControlCharacter,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Checks the strength rule: length only (NIST SP 800-63B advises against
/// composition rules), and no control characters, which are almost always
/// an accident.
pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars == 0 {
        return Err(PasswordError::Empty);
    }
    if password.len() > MAX_BYTES {
        return Err(PasswordError::TooLong {
            bytes: password.len(),
        });
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacter);
    }
    if chars < MIN_CHARS {
        return Err(PasswordError::TooShort { chars });
    }
    Ok(())
}

/// Hashes a password that passed [`check_strength`], with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_strength(password)?;
    hash_unchecked(password)
}

/// Hashes without the strength rule (for the timing decoy).
pub(crate) fn hash_unchecked(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash never
/// matches. The comparison is constant-time.
pub fn verify(password: &str, hash: &str) -> bool {
    verify_with(password, hash, &mut Vec::new())
}

/// The largest argon2 working memory a stored hash may ask for (1 GiB, in
/// 1 KiB blocks); a hash demanding more is treated as not matching.
const MAX_BLOCKS: usize = 1 << 20;

/// [`verify`] with caller-provided working memory (19 MiB for our hashes),
/// reused across verifications. Allocating it afresh for every login left
/// a 19 MiB chunk cached by the allocator in each thread that ever verified
/// a password: over a gigabyte after a burst of logins.
pub fn verify_with(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let version = phc
        .version
        .map_or_else(|| Ok(Version::default()), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(&phc)) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    memory.resize(blocks, Block::default());
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

/// Equal without an early exit: the time taken says nothing about where
/// the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("correct horse battery", "not a hash"));
        // Reused memory gives the same answers.
        let mut memory = Vec::new();
        assert!(verify_with("correct horse battery", &a, &mut memory));
        assert!(!verify_with("wrong horse battery", &a, &mut memory));
        assert!(verify_with("correct horse battery", &b, &mut memory));
        assert_eq!(memory.len(), 19 * 1024);
    }

    #[test]
    fn strength_rule_messages() {
        assert_eq!(check_strength(""), Err(PasswordError::Empty));
        assert_eq!(
            check_strength("short").unwrap_err().to_string(),
            "the password is too short: 5 characters, at least 10 are needed"
        );
        assert_eq!(check_strength("ten chars!"), Ok(()));
        // Characters, not bytes: ten accented letters are ten.
        assert_eq!(check_strength("éééééééééé"), Ok(()));
        assert_eq!(
            check_strength("long enough\n"),
            Err(PasswordError::ControlCharacter)
        );
        assert_eq!(
            check_strength(&"x".repeat(1025)),
            Err(PasswordError::TooLong { bytes: 1025 })
        );
    }
}
