//! The accounts and their credentials: `[[accounts]]` or `CLOUDFLARE_ACCOUNT_ID`, each with
//! a token or the legacy e-mail + key pair, from variables or `*_FILE` secrets.

use std::collections::BTreeSet;

use super::file::FileAccount;
use super::merge::invalid;
use super::{Account, ConfigError, Env};
use crate::cloudflare::Credentials;
use crate::secret::Secret;

/// Account ids go into URL paths: letters, digits, `-` and `_` only.
fn valid_account_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The accounts: `[[accounts]]` from the file, or the one `CLOUDFLARE_ACCOUNT_ID` names;
/// both at once is refused as ambiguous, never silently overridden.
pub(super) fn build(
    env: &Env,
    from_file: Vec<FileAccount>,
    fo: &str,
) -> Result<Vec<Account>, ConfigError> {
    let from_env = env
        .get("CLOUDFLARE_ACCOUNT_ID")
        .filter(|v| !v.trim().is_empty());
    let specs: Vec<(FileAccount, String)> = match (from_env, from_file.is_empty()) {
        (Some(id), false) => {
            return Err(invalid(
                "accounts",
                id,
                "environment variable CLOUDFLARE_ACCOUNT_ID",
                format!("{fo} also lists [[accounts]]; set one or the other, not both"),
            ))
        }
        (Some(id), true) => vec![(
            FileAccount {
                id: id.trim().to_owned(),
                ..FileAccount::default()
            },
            "environment variable CLOUDFLARE_ACCOUNT_ID".into(),
        )],
        (None, _) => from_file.into_iter().map(|a| (a, fo.to_owned())).collect(),
    };
    if specs.is_empty() {
        return Err(ConfigError::NoAccount);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for (i, (spec, origin)) in specs.into_iter().enumerate() {
        let key = if origin.starts_with("environment") {
            "accounts".to_owned()
        } else {
            format!("accounts[{i}].id")
        };
        if !valid_account_id(&spec.id) {
            return Err(invalid(
                &key,
                &spec.id,
                &origin,
                "an account id is 1 to 64 letters, digits, '-' or '_'",
            ));
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
    let direct = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let via_file = env
        .get(&file_var)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    match (direct, via_file) {
        (Some(_), Some(_)) => Err(ConfigError::Credentials {
            account: account.into(),
            reason: format!("both {name} and {file_var} are set; set only one"),
        }),
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
            return Err(ConfigError::Credentials {
                account: spec.id.clone(),
                reason: format!("{name} (or {name}_FILE) is not set"),
            });
        }
    }
    let email_name = spec.email_env.as_deref().unwrap_or("CLOUDFLARE_EMAIL");
    let key_name = spec.api_key_env.as_deref().unwrap_or("CLOUDFLARE_API_KEY");
    let email = secret_var(env, &spec.id, email_name)?;
    let key = secret_var(env, &spec.id, key_name)?;
    match (email, key) {
        (Some(email), Some(key)) => Ok((
            Credentials::Legacy { email, key },
            format!("{email_name} + {key_name}"),
        )),
        (Some(_), None) => Err(ConfigError::Credentials {
            account: spec.id.clone(),
            reason: format!("{email_name} is set but {key_name} (or {key_name}_FILE) is not"),
        }),
        (None, Some(_)) => Err(ConfigError::Credentials {
            account: spec.id.clone(),
            reason: format!("{key_name} is set but {email_name} (or {email_name}_FILE) is not"),
        }),
        (None, None) => Err(ConfigError::Credentials {
            account: spec.id.clone(),
            reason: if explicit_legacy {
                format!("{email_name} and {key_name} (or their _FILE variants) are not set")
            } else {
                "set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE), or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY".into()
            },
        }),
    }
}
