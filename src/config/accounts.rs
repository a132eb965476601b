//! The accounts and their credentials: `[[accounts]]` or `CLOUDFLARE_ACCOUNT_ID`, each with
//! a token or the legacy e-mail + key pair, from variables or `*_FILE` secrets.

use std::collections::BTreeSet;

use super::file::{FileAccount, FileValues};
use super::merge::invalid;
use super::{Account, ConfigError, Env, Result};
use crate::cloudflare::Credentials;
use crate::secret::Secret;

const FROM_ENV: &str = "environment variable CLOUDFLARE_ACCOUNT_ID";

/// The accounts: `[[accounts]]` from the file, or the one `CLOUDFLARE_ACCOUNT_ID` names;
/// both at once is refused as ambiguous, never silently overridden.
pub(super) fn build(env: &Env, file: &FileValues) -> Result<Vec<Account>> {
    let from_env = env.get("CLOUDFLARE_ACCOUNT_ID").map(|v| v.trim());
    let (specs, origin) = match from_env.filter(|v| !v.is_empty()) {
        Some(id) if !file.accounts.is_empty() => {
            let why = format!(
                "{} also lists [[accounts]]; set one or the other, not both",
                file.origin
            );
            return Err(invalid("accounts", id, FROM_ENV, why));
        }
        Some(id) => {
            let one = FileAccount {
                id: id.into(),
                ..FileAccount::default()
            };
            (vec![one], FROM_ENV)
        }
        None if file.accounts.is_empty() => return Err(ConfigError::NoAccount),
        None => (file.accounts.clone(), file.origin.as_str()),
    };
    let mut seen = BTreeSet::new();
    (specs.iter().enumerate())
        .map(|(i, spec)| {
            let key = match origin {
                FROM_ENV => "accounts".to_owned(),
                _ => format!("accounts[{i}].id"),
            };
            // Account ids go into URL paths: letters, digits, `-` and `_` only.
            let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            let id = &spec.id;
            if !(1..=64).contains(&id.len()) || !id.bytes().all(valid) {
                let why = "an account id is 1 to 64 letters, digits, '-' or '_'";
                return Err(invalid(&key, id, origin, why));
            }
            if !seen.insert(id) {
                return Err(invalid(&key, id, origin, "this account is listed twice"));
            }
            let (credentials, credential_source) = credentials(env, spec)?;
            Ok(Account {
                id: id.clone(),
                credentials,
                credential_source,
            })
        })
        .collect()
}

/// Reads `NAME`, or the file that `NAME_FILE` points at (read again when it changes).
/// Both set is refused.
fn secret_var(env: &Env, account: &str, name: &str) -> Result<Option<Secret>> {
    let file_var = format!("{name}_FILE");
    let get = |n: &str| env.get(n).map(|v| v.trim()).filter(|v| !v.is_empty());
    match (get(name), get(&file_var)) {
        (Some(_), Some(_)) => Err(missing(
            account,
            format!("both {name} and {file_var} are set; set only one"),
        )),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => Secret::from_file(path).map(Some).map_err(|e| {
            let origin = format!("environment variable {file_var}");
            invalid(&file_var, path, &origin, e.to_string())
        }),
        (None, None) => Ok(None),
    }
}

fn missing(account: &str, reason: String) -> ConfigError {
    let account = account.into();
    ConfigError::Credentials { account, reason }
}

/// A token (the named variable, or `CLOUDFLARE_API_TOKEN` unless the legacy pair is named),
/// else the e-mail + key pair; and the variables they came from.
fn credentials(env: &Env, spec: &FileAccount) -> Result<(Credentials, String)> {
    let legacy_named = spec.email_env.is_some() || spec.api_key_env.is_some();
    if !legacy_named || spec.api_token_env.is_some() {
        let name = spec.api_token_env.as_deref();
        let name = name.unwrap_or("CLOUDFLARE_API_TOKEN");
        if let Some(t) = secret_var(env, &spec.id, name)? {
            return Ok((Credentials::Token(t), name.to_owned()));
        }
        if spec.api_token_env.is_some() {
            let why = format!("{name} (or {name}_FILE) is not set");
            return Err(missing(&spec.id, why));
        }
    }
    let email_name = spec.email_env.as_deref().unwrap_or("CLOUDFLARE_EMAIL");
    let key_name = spec.api_key_env.as_deref().unwrap_or("CLOUDFLARE_API_KEY");
    let email = secret_var(env, &spec.id, email_name)?;
    let key = secret_var(env, &spec.id, key_name)?;
    let reason = match (email, key) {
        (Some(email), Some(key)) => {
            return Ok((Credentials::Legacy { email, key }, format!("{email_name} + {key_name}")))
        }
        (Some(_), None) => format!("{email_name} is set but {key_name} (or {key_name}_FILE) is not"),
        (None, Some(_)) => format!("{key_name} is set but {email_name} (or {email_name}_FILE) is not"),
        (None, None) if legacy_named => {
            format!("{email_name} and {key_name} (or their _FILE variants) are not set")
        }
        (None, None) => "set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE), or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY".into(),
    };
    Err(missing(&spec.id, reason))
}
