//! The HS256 signing secret: `EVNI_JWT_SECRET`, or a random key generated on
//! first start and kept in the data dir (readable by the owner only).

use std::io::Write;

use anyhow::Context;
use rand::RngCore;

use crate::Config;

const KEY_FILE: &str = "jwt.key";

pub(crate) fn load_or_create(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = config.data_dir.join(KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let key = text.trim();
        anyhow::ensure!(
            key.len() >= 32,
            "{} is too short to be a signing key",
            path.display()
        );
        return Ok(key.as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes())
                .context("writing the signing key")?;
            file.sync_all()?;
            Ok(key.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(config),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}
