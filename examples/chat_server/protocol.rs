//! The line protocol: commands a client sends, and the names they carry.

/// Longest line accepted, without its `\n` (or `\r\n`).
pub(crate) const MAX_LINE: usize = 4096;

/// A command from a client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    Nick(&'a str),
    Join(&'a str),
    Part(&'a str),
    /// Room and the rest of the line, byte-exact.
    Msg(&'a str, &'a str),
    Who(&'a str),
    Quit,
    /// `--debug-commands` only.
    Panic,
    /// `--debug-commands` only.
    Crash(&'a str),
}

/// Why a line is not a command; the text after `ERR `.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownCommand,
    BadName,
    InvalidUtf8,
}

impl Refusal {
    pub(crate) fn line(&self) -> &'static str {
        match self {
            Refusal::UnknownCommand => "ERR unknown command\n",
            Refusal::BadName => "ERR bad name\n",
            Refusal::InvalidUtf8 => "ERR invalid UTF-8\n",
        }
    }
}

/// Nicks and rooms: `[A-Za-z0-9_-]{1,32}`.
pub(crate) fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn name(s: &str) -> Result<&str, Refusal> {
    if valid_name(s) {
        Ok(s)
    } else {
        Err(Refusal::BadName)
    }
}

/// Parses one line (without its terminator).
pub(crate) fn parse(line: &[u8], debug: bool) -> Result<Command<'_>, Refusal> {
    let line = std::str::from_utf8(line).map_err(|_| Refusal::InvalidUtf8)?;
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    match cmd {
        "NICK" => name(rest).map(Command::Nick),
        "JOIN" => name(rest).map(Command::Join),
        "PART" => name(rest).map(Command::Part),
        "WHO" => name(rest).map(Command::Who),
        "MSG" => {
            let (room, text) = rest.split_once(' ').unwrap_or((rest, ""));
            name(room).map(|room| Command::Msg(room, text))
        }
        "QUIT" => Ok(Command::Quit),
        "PANIC" if debug => Ok(Command::Panic),
        "CRASH" if debug => name(rest).map(Command::Crash),
        _ => Err(Refusal::UnknownCommand),
    }
}
