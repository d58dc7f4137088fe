//! Turning a keepalived-style `script` string into something safe to execute:
//! argv splitting (like a shell, but never through one), `PATH` lookup, the
//! user to run as, and keepalived's `enable_script_security` checks.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Error;

/// The `PATH` searched for a bare program name when the daemon has none,
/// the same list `execvp` falls back to on glibc plus the sbin directories.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether an insecure script is refused (keepalived's `enable_script_security`)
/// or only warned about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScriptSecurity {
    /// Refuse to run, as root, a script that a non-root user could modify.
    #[default]
    Enforce,
    /// Log a warning and run it anyway (keepalived without `enable_script_security`).
    WarnOnly,
}

/// The user (and optionally group) a script runs as: keepalived's `user USER [GROUP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// User name or numeric uid.
    pub user: String,
    /// Group name or numeric gid; defaults to the user's primary group.
    pub group: Option<String>,
}

/// A parsed, resolved and (if run as root) security-checked command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCommand {
    source: String,
    program: PathBuf,
    args: Vec<String>,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl ScriptCommand {
    /// Parses `script` for `what` (a label such as `check chk_proxy` used in
    /// errors): splits it like a shell would (quotes, backslashes) without
    /// running one, resolves a bare program name through `$PATH`, resolves
    /// `run_as` to a uid/gid, and, when the command will run as root, applies
    /// keepalived's script security rules (see [`check_script_secure`]).
    pub fn parse(
        what: &str,
        script: &str,
        run_as: Option<&RunAs>,
        security: ScriptSecurity,
    ) -> Result<Self, Error> {
        let words = shlex::split(script).ok_or_else(|| Error::ScriptQuoting {
            what: what.to_owned(),
            script: script.to_owned(),
        })?;
        let mut words = words.into_iter();
        let first = words.next().ok_or_else(|| Error::EmptyScript {
            what: what.to_owned(),
        })?;
        let args: Vec<String> = words.collect();
        let program = resolve_program(what, &first)?;
        let (uid, gid) = match run_as {
            None => (None, None),
            Some(run_as) => {
                let (uid, gid) = resolve_user(what, run_as)?;
                (Some(uid), Some(gid))
            }
        };
        let runs_as_root = uid.map_or_else(|| nix::unistd::geteuid().is_root(), |u| u == 0);
        if runs_as_root {
            match (check_script_secure(&program), security) {
                (Ok(()), _) => {}
                (Err(insecure), ScriptSecurity::Enforce) => {
                    return Err(Error::InsecureScript {
                        what: what.to_owned(),
                        path: insecure.path,
                        reason: insecure.reason,
                    });
                }
                (Err(insecure), ScriptSecurity::WarnOnly) => {
                    tracing::warn!(
                        what,
                        path = %insecure.path.display(),
                        reason = %insecure.reason,
                        "script runs as root but a non-root user could modify it"
                    );
                }
            }
        }
        Ok(Self {
            source: script.to_owned(),
            program,
            args,
            uid,
            gid,
        })
    }

    /// The script string as configured.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The absolute path that will be executed.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The arguments after the program, as split from the script string.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The uid the command switches to, if a user was configured.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    /// The gid the command switches to, if a user was configured.
    pub fn gid(&self) -> Option<u32> {
        self.gid
    }
}

/// Finds the program like `execvp` would, but once, at configuration time,
/// so the security check looks at the file that will really run.
fn resolve_program(what: &str, word: &str) -> Result<PathBuf, Error> {
    if word.contains('/') {
        let path = PathBuf::from(word);
        if !path.is_absolute() {
            return Err(Error::RelativeProgram {
                what: what.to_owned(),
                program: word.to_owned(),
            });
        }
        return Ok(path);
    }
    let search = std::env::var_os("PATH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(word))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .ok_or_else(|| Error::ProgramNotFound {
            what: what.to_owned(),
            program: word.to_owned(),
        })
}

/// Resolves a user (and group) given by name or number to a uid and gid.
fn resolve_user(what: &str, run_as: &RunAs) -> Result<(u32, u32), Error> {
    use nix::unistd::{Gid, Group, Uid, User};
    let unknown_user = || Error::UnknownUser {
        what: what.to_owned(),
        user: run_as.user.clone(),
    };
    let user = match run_as.user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)).ok().flatten(),
        Err(_) => User::from_name(&run_as.user).ok().flatten(),
    }
    .ok_or_else(unknown_user)?;
    let gid = match &run_as.group {
        None => user.gid.as_raw(),
        Some(group) => {
            let found = match group.parse::<u32>() {
                Ok(gid) => Group::from_gid(Gid::from_raw(gid)).ok().flatten(),
                Err(_) => Group::from_name(group).ok().flatten(),
            };
            found
                .ok_or_else(|| Error::UnknownGroup {
                    what: what.to_owned(),
                    group: group.clone(),
                })?
                .gid
                .as_raw()
        }
    };
    Ok((user.uid.as_raw(), gid))
}

/// Why a script path is unsafe to run as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insecure {
    /// The offending path component (the file itself or a directory above it).
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// keepalived's `enable_script_security` rule, applied to the script as
/// given and to its canonical path (so a symlink in a user-writable directory
/// and a safe-looking symlink to a user-writable file are both caught).
///
/// A component is unsafe when its owner is not root, or when it is a regular
/// file or a directory without the sticky bit and is writable by others, or by
/// a group other than root's. (Sticky directories such as `/tmp` are fine: a
/// user cannot replace root's entries there.)
pub fn check_script_secure(program: &Path) -> Result<(), Insecure> {
    let canonical = std::fs::canonicalize(program).map_err(|e| Insecure {
        path: program.to_owned(),
        reason: format!("cannot resolve it: {e}"),
    })?;
    // Directories above the path as written (their entries can be swapped),
    // then every component of the real path including the file.
    if let Some(parent) = program.parent() {
        check_components(parent)?;
    }
    check_components(&canonical)
}

/// Checks `path` and each of its ancestors up to `/`.
fn check_components(path: &Path) -> Result<(), Insecure> {
    let mut chain: Vec<&Path> = path.ancestors().collect();
    chain.reverse();
    for component in chain {
        let meta = std::fs::metadata(component).map_err(|e| Insecure {
            path: component.to_owned(),
            reason: format!("cannot stat it: {e}"),
        })?;
        let mode = meta.mode();
        let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
        let reason = if meta.uid() != 0 {
            Some(format!("owned by uid {}, not root", meta.uid()))
        } else if !sticky_dir && mode & 0o002 != 0 {
            Some(format!("writable by others (mode {:o})", mode & 0o7777))
        } else if !sticky_dir && meta.gid() != 0 && mode & 0o020 != 0 {
            Some(format!(
                "writable by group {} (mode {:o})",
                meta.gid(),
                mode & 0o7777
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Insecure {
                path: component.to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_without_one() {
        let cmd = ScriptCommand::parse(
            "check t",
            r#"/bin/echo "a b" 'c d' e\ f $HOME;"#,
            None,
            ScriptSecurity::Enforce,
        )
        .unwrap();
        assert_eq!(cmd.program(), Path::new("/bin/echo"));
        assert_eq!(cmd.args(), ["a b", "c d", "e f", "$HOME;"]);
    }

    #[test]
    fn bare_name_is_found_in_path() {
        let cmd = ScriptCommand::parse("check t", "true", None, ScriptSecurity::Enforce).unwrap();
        assert!(cmd.program().is_absolute());
        assert!(cmd.program().ends_with("true"));
    }

    #[test]
    fn bad_scripts_name_the_owner() {
        let err =
            ScriptCommand::parse("check chk_x", "  ", None, ScriptSecurity::Enforce).unwrap_err();
        assert!(err.to_string().contains("check chk_x"), "{err}");
        let err = ScriptCommand::parse(
            "check chk_x",
            "/bin/echo 'open",
            None,
            ScriptSecurity::Enforce,
        )
        .unwrap_err();
        assert!(matches!(err, Error::ScriptQuoting { .. }), "{err}");
        let err = ScriptCommand::parse(
            "check chk_x",
            "no-such-program-had-test",
            None,
            ScriptSecurity::Enforce,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no-such-program-had-test"),
            "{err}"
        );
        let err = ScriptCommand::parse("check chk_x", "bin/true", None, ScriptSecurity::Enforce)
            .unwrap_err();
        assert!(matches!(err, Error::RelativeProgram { .. }), "{err}");
    }

    #[test]
    fn users_resolve_by_name_and_number() {
        let nobody = RunAs {
            user: "nobody".into(),
            group: None,
        };
        let cmd = ScriptCommand::parse(
            "check t",
            "/bin/true",
            Some(&nobody),
            ScriptSecurity::Enforce,
        )
        .unwrap();
        assert_eq!(cmd.uid(), Some(65534));
        let by_number = RunAs {
            user: "0".into(),
            group: Some("0".into()),
        };
        let cmd = ScriptCommand::parse(
            "check t",
            "/bin/true",
            Some(&by_number),
            ScriptSecurity::Enforce,
        )
        .unwrap();
        assert_eq!((cmd.uid(), cmd.gid()), (Some(0), Some(0)));
        let ghost = RunAs {
            user: "no-such-user-had".into(),
            group: None,
        };
        let err = ScriptCommand::parse(
            "check t",
            "/bin/true",
            Some(&ghost),
            ScriptSecurity::Enforce,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no-such-user-had"), "{err}");
    }
}
