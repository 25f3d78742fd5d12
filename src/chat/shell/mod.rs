//! The terminal chat (`pmbot shell`): type as a team member, see the bot's replies, press
//! buttons with `!N`. The press goes through the same `Action` path as a Slack button.

pub mod render;

use crate::chat::{deliver, Button, Chat, ChatError, Inbound, Message, MessageRef, Origin, Platform};
use crate::dispatch::Bot;
use crate::job_env::JobEnv;
use crate::queue::Worker;
use chrono::{DateTime, Utc};
use render::{classify, render, ShellInput, Style, MAX_MESSAGE_CHARS};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Sends by printing. Remembers the buttons it showed so `!N` can press them.
pub struct ShellChat {
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    style: Style,
    next_button: usize,
    next_message: u64,
    buttons: BTreeMap<usize, (MessageRef, Button)>,
}

impl ShellChat {
    pub fn new(out: Box<dyn Write + Send>, style: Style) -> Self {
        let state = State { out, style, next_button: 1, next_message: 1, buttons: BTreeMap::new() };
        ShellChat { state: Mutex::new(state) }
    }

    /// Prints a line of the shell's own (prompts' echoes, notices).
    pub fn note(&self, text: &str) -> Result<(), ChatError> {
        let mut state = self.lock();
        writeln!(state.out, "{text}")?;
        Ok(state.out.flush()?)
    }

    /// The button shown as `[number]`, with the message it is on.
    /// The number of the newest button still shown whose label starts with `label`.
    pub fn newest_button(&self, label: &str) -> Option<usize> {
        self.lock().buttons.iter().rev().find(|(_, (_, b))| b.label.starts_with(label)).map(|(n, _)| *n)
    }

    pub fn button(&self, number: usize) -> Option<(MessageRef, Button)> {
        self.lock().buttons.get(&number).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while printing leaves nothing half-updated that matters; keep going.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn show(&self, speaker: &str, target: MessageRef, message: &Message) -> Result<MessageRef, ChatError> {
        let mut state = self.lock();
        state.buttons.retain(|_, (on, _)| *on != target);
        let first = state.next_button;
        for button in message.buttons() {
            let number = state.next_button;
            state.buttons.insert(number, (target.clone(), button.clone()));
            state.next_button += 1;
        }
        let text = render(speaker, message, state.style, first);
        write!(state.out, "{text}")?;
        state.out.flush()?;
        Ok(target)
    }

    fn next_ref(&self, channel: &str) -> MessageRef {
        let mut state = self.lock();
        let ts = format!("bot-{}", state.next_message);
        state.next_message += 1;
        MessageRef { channel: channel.to_string(), ts }
    }
}

impl Chat for ShellChat {
    async fn post(&self, channel: &str, thread: Option<&str>, message: &Message) -> Result<MessageRef, ChatError> {
        let target = self.next_ref(channel);
        let where_ = if thread.is_some() { format!("{channel} (in the thread)") } else { channel.to_string() };
        self.show(&format!("pmbot › {where_}"), target, message)
    }

    async fn update(&self, target: &MessageRef, message: &Message) -> Result<(), ChatError> {
        self.show("pmbot › (updates its message)", target.clone(), message).map(|_| ())
    }

    async fn ephemeral(&self, channel: &str, _user: &str, message: &Message) -> Result<(), ChatError> {
        let target = self.next_ref(channel);
        self.show("pmbot › (only you see this)", target, message).map(|_| ())
    }

    async fn home(&self, user: &str, message: &Message) -> Result<(), ChatError> {
        let target = MessageRef { channel: format!("home:{user}"), ts: "home".into() };
        self.show(&format!("pmbot › home of @{user}"), target, message).map(|_| ())
    }

    async fn dm(&self, user: &str, message: &Message) -> Result<MessageRef, ChatError> {
        let target = self.next_ref(&format!("@{user}"));
        self.show(&format!("pmbot › DM to @{user}"), target, message)
    }
}

/// One person's conversation with the bot in a channel. After each line, the jobs it caused
/// run to completion (e.g. a triage request is posted) before the next line is read.
pub struct ShellSession<'a> {
    bot: &'a Bot,
    pub chat: Arc<ShellChat>,
    worker: Option<Worker<JobEnv<ShellChat>>>,
    pub user: String,
    pub channel: String,
    /// Print each typed line before the reply (for piped input and the demo).
    pub echo: bool,
    sent: u64,
    /// The last message that was not a reply: `> text` replies in its thread.
    last_root: Option<String>,
}

/// Whether to keep reading lines.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

impl<'a> ShellSession<'a> {
    pub fn new(bot: &'a Bot, chat: Arc<ShellChat>, user: &str, channel: &str, echo: bool) -> Self {
        ShellSession {
            bot,
            chat,
            worker: None,
            user: user.into(),
            channel: channel.into(),
            echo,
            sent: 0,
            last_root: None,
        }
    }

    /// Runs due jobs with `worker` after each line.
    pub fn with_worker(mut self, worker: Worker<JobEnv<ShellChat>>) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Handles one typed line as the current user.
    pub async fn line(&mut self, line: &str, now: DateTime<Utc>) -> Result<Flow, ChatError> {
        let input = classify(line, &self.bot.config.team.bot_name);
        if self.echo && input != ShellInput::Empty {
            let shown: String = line.trim().chars().take(200).collect();
            let cut = if line.trim().chars().count() > 200 { "…" } else { "" };
            self.chat.note(&format!("\n{} › {shown}{cut}", self.user))?;
        }
        let inbound = match input {
            ShellInput::Empty => return Ok(Flow::Continue),
            ShellInput::TooLong { chars } => {
                self.chat.note(&format!(
                    "⚠️ That message has {chars} characters; the limit is {MAX_MESSAGE_CHARS}. Nothing was sent."
                ))?;
                return Ok(Flow::Continue);
            }
            ShellInput::Invalid { reason } => {
                self.chat.note(&format!("⚠️ {reason}"))?;
                return Ok(Flow::Continue);
            }
            ShellInput::Meta { command, arg } => return self.meta(&command, &arg),
            ShellInput::Press(number) => match self.chat.button(number) {
                Some((message, button)) => Inbound::Action {
                    origin: self.origin(now),
                    action_id: button.action_id,
                    value: button.value,
                    message,
                    trigger: None,
                },
                None => {
                    self.chat.note(&format!(
                        "⚠️ There is no button [{number}] any more: used or replaced buttons disappear."
                    ))?;
                    return Ok(Flow::Continue);
                }
            },
            ShellInput::Slash { command, text } => Inbound::SlashCommand { origin: self.origin(now), command, text },
            ShellInput::Mention { text } => Inbound::Mention { origin: self.origin(now), text },
            ShellInput::Message { text } => {
                let mut origin = self.origin(now);
                match text.strip_prefix("> ").or_else(|| text.strip_prefix('>')) {
                    Some(reply) if self.last_root.is_some() => {
                        origin.thread = self.last_root.clone();
                        Inbound::Message { origin, text: reply.trim().to_string() }
                    }
                    _ => {
                        self.last_root = Some(origin.ts.clone());
                        Inbound::Message { origin, text }
                    }
                }
            }
        };
        let outbound = self.bot.handle(&inbound, now).await;
        deliver(self.chat.as_ref(), &outbound).await?;
        if let Some(worker) = &self.worker {
            worker.run_until_idle().await;
        }
        Ok(Flow::Continue)
    }

    fn origin(&mut self, now: DateTime<Utc>) -> Origin {
        self.sent += 1;
        Origin {
            platform: Platform::Shell,
            channel: self.channel.clone(),
            user: self.user.clone(),
            // Slack-like ids, unique across sessions, so each line is stored once.
            ts: format!("{}.{:06}", now.timestamp(), (now.timestamp_subsec_micros() as u64 + self.sent) % 1_000_000),
            thread: None,
        }
    }

    fn meta(&mut self, command: &str, arg: &str) -> Result<Flow, ChatError> {
        match command {
            "quit" | "exit" | "q" => return Ok(Flow::Quit),
            "as" => match self.bot.config.people.iter().find(|p| p.handle == arg) {
                Some(person) => {
                    self.user = person.handle.clone();
                    self.chat.note(&format!("You are now {} ({}).", person.name, person.handle))?;
                }
                None => {
                    self.chat.note(&format!("⚠️ No one has the handle \"{arg}\"; try one of: {}", self.handles()))?
                }
            },
            "channel" | "join" if arg.starts_with('#') && arg.len() > 1 => {
                self.channel = arg.to_string();
                self.last_root = None;
                self.chat.note(&format!("You are now in {arg}."))?;
            }
            "channel" | "join" => self.chat.note("⚠️ Name the channel with its #, e.g. :channel #acme-web")?,
            _ => self.chat.note(
                "Type a message, a /command (/standup, /board, /pm help) or mention @pmbot.\n\
                 > text replies in the thread of the last message · !N presses button N\n\
                 :as HANDLE switches person · :channel #NAME switches channel · :quit leaves",
            )?,
        }
        Ok(Flow::Continue)
    }

    fn handles(&self) -> String {
        self.bot.config.people.iter().map(|p| p.handle.as_str()).collect::<Vec<_>>().join(", ")
    }
}
