//! The accounts and their credentials: `[[accounts]]` or `CLOUDFLARE_ACCOUNT_ID`, each with
//! a token or the legacy e-mail + key pair, from variables or `*_FILE` secrets.

use std::collections::BTreeSet;

use super::file::FileAccount;
use super::merge::invalid;
use super::{Account, ConfigError, Env};
use crate::cloudflare::Credentials;
use crate::secret::Secret;

const FROM_ENV: &str = "environment variable CLOUDFLARE_ACCOUNT_ID";

/// The accounts: `[[accounts]]` from the file, or the one `CLOUDFLARE_ACCOUNT_ID` names;
/// both at once is refused as ambiguous, never silently overridden.
pub(super) fn build(
    env: &Env,
    file: Vec<FileAccount>,
    fo: &str,
) -> Result<Vec<Account>, ConfigError> {
    let from_env = env
        .get("CLOUDFLARE_ACCOUNT_ID")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    let specs: Vec<(FileAccount, String, String)> = match from_env {
        Some(id) if !file.is_empty() => {
            let why = format!("{fo} also lists [[accounts]]; set one or the other, not both");
            return Err(invalid("accounts", id, FROM_ENV, why));
        }
        Some(id) => {
            let spec = FileAccount {
                id: id.to_owned(),
                ..FileAccount::default()
            };
            vec![(spec, "accounts".into(), FROM_ENV.into())]
        }
        None => file
            .into_iter()
            .enumerate()
            .map(|(i, a)| (a, format!("accounts[{i}].id"), fo.to_owned()))
            .collect(),
    };
    if specs.is_empty() {
        return Err(ConfigError::NoAccount);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for (spec, key, origin) in specs {
        // Account ids go into URL paths: letters, digits, `-` and `_` only.
        let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if spec.id.is_empty() || spec.id.len() > 64 || !spec.id.bytes().all(valid) {
            let why = "an account id is 1 to 64 letters, digits, '-' or '_'";
            return Err(invalid(&key, &spec.id, &origin, why));
        }
        if !seen.insert(spec.id.clone()) {
            return Err(invalid(
                &key,
                &spec.id,
                &origin,
                "this account is listed twice",
            ));
        }
        let (credentials, credential_source) = credentials_for(env, &spec)?;
        out.push(Account {
            id: spec.id,
            credentials,
            credential_source,
        });
    }
    Ok(out)
}

/// Reads `NAME`, or the file that `NAME_FILE` points at (read again when it changes).
/// Both set is refused.
fn secret_var(env: &Env, account: &str, name: &str) -> Result<Option<Secret>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let get = |n: &str| env.get(n).map(|v| v.trim()).filter(|v| !v.is_empty());
    match (get(name), get(&file_var)) {
        (Some(_), Some(_)) => Err(missing(
            account,
            format!("both {name} and {file_var} are set; set only one"),
        )),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => Secret::from_file(path).map(Some).map_err(|e| {
            invalid(
                &file_var,
                path,
                &format!("environment variable {file_var}"),
                e.to_string(),
            )
        }),
        (None, None) => Ok(None),
    }
}

fn missing(account: &str, reason: String) -> ConfigError {
    ConfigError::Credentials {
        account: account.into(),
        reason,
    }
}

fn credentials_for(env: &Env, spec: &FileAccount) -> Result<(Credentials, String), ConfigError> {
    let explicit_legacy = spec.email_env.is_some() || spec.api_key_env.is_some();
    if !explicit_legacy || spec.api_token_env.is_some() {
        let name = spec
            .api_token_env
            .as_deref()
            .unwrap_or("CLOUDFLARE_API_TOKEN");
        if let Some(t) = secret_var(env, &spec.id, name)? {
            return Ok((Credentials::Token(t), name.to_owned()));
        }
        if spec.api_token_env.is_some() {
            return Err(missing(
                &spec.id,
                format!("{name} (or {name}_FILE) is not set"),
            ));
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
        (None, None) if explicit_legacy => {
            format!("{email_name} and {key_name} (or their _FILE variants) are not set")
        }
        (None, None) => "set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE), or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY".into(),
    };
    Err(missing(&spec.id, reason))
}
