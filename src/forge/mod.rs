//! Where a fix run's pull request lives. The `local` forge is plain git (in
//! `workflows::fix::git`); [`github`] is GitHub's REST API through octocrab.

pub mod github;
