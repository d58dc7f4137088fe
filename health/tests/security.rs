//! keepalived's `enable_script_security`: a script run as root must not be
//! modifiable by a non-root user, and the refusal names the path.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use health::{Error, RunAs, ScriptCommand, ScriptSecurity};

/// A root-owned 0700 directory (tempfile's default) holding an executable.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    chmod(&script, 0o755);
    (dir, script)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

fn parse(script: &Path) -> Result<ScriptCommand, Error> {
    ScriptCommand::parse(
        "check chk_sec",
        script.to_str().unwrap(),
        None,
        ScriptSecurity::Enforce,
    )
}

fn refused_path(result: Result<ScriptCommand, Error>) -> PathBuf {
    match result {
        Err(err @ Error::InsecureScript { .. }) => {
            let message = err.to_string();
            let Error::InsecureScript { path, what, .. } = err else {
                unreachable!()
            };
            assert_eq!(what, "check chk_sec");
            assert!(message.contains(&path.display().to_string()), "{message}");
            path
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "security tests need root under CI"
    );
    eprintln!("skipping: security tests need root");
    false
}

#[test]
fn safe_script_is_accepted() {
    if !root_or_skip() {
        return;
    }
    let (_dir, script) = setup();
    parse(&script).unwrap();
}

#[test]
fn world_writable_script_is_refused() {
    if !root_or_skip() {
        return;
    }
    let (_dir, script) = setup();
    chmod(&script, 0o757);
    assert_eq!(refused_path(parse(&script)), script);
}

#[test]
fn group_writable_script_with_non_root_group_is_refused() {
    if !root_or_skip() {
        return;
    }
    let (_dir, script) = setup();
    chmod(&script, 0o775);
    // Group root may write (keepalived's rule): still accepted.
    parse(&script).unwrap();
    chown(&script, 0, 65534);
    assert_eq!(refused_path(parse(&script)), script);
}

#[test]
fn script_owned_by_a_user_is_refused() {
    if !root_or_skip() {
        return;
    }
    let (_dir, script) = setup();
    chown(&script, 65534, 65534);
    assert_eq!(refused_path(parse(&script)), script);
}

#[test]
fn writable_directory_above_is_refused() {
    if !root_or_skip() {
        return;
    }
    let (dir, _) = setup();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let script = sub.join("check.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    chmod(&script, 0o755);
    chmod(&sub, 0o777);
    assert_eq!(refused_path(parse(&script)), sub);
    // The sticky bit makes a shared directory safe (like /tmp).
    chmod(&sub, 0o1777);
    parse(&script).unwrap();
}

#[test]
fn symlink_to_an_unsafe_file_is_refused() {
    if !root_or_skip() {
        return;
    }
    let (dir, script) = setup();
    chmod(&script, 0o777);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&script, &link).unwrap();
    assert_eq!(refused_path(parse(&link)), script);
}

#[test]
fn warn_only_and_non_root_users_are_not_refused() {
    if !root_or_skip() {
        return;
    }
    let (_dir, script) = setup();
    chmod(&script, 0o777);
    let path = script.to_str().unwrap();
    ScriptCommand::parse("check t", path, None, ScriptSecurity::WarnOnly).unwrap();
    // keepalived's rule protects root: a script run as nobody is not refused.
    let nobody = RunAs {
        user: "nobody".into(),
        group: None,
    };
    ScriptCommand::parse("check t", path, Some(&nobody), ScriptSecurity::Enforce).unwrap();
}
