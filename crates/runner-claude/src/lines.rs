//! Reads newline-terminated lines with a size cap: the CLI's lines can be large (tool
//! results) but must never grow without bound.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line (without its newline; a final unterminated line counts too).
    Complete,
    /// End of input; the buffer is empty.
    Eof,
    /// The line passed `cap` bytes; the stream is no longer usable.
    TooLong,
}

/// Reads the next line into `buf` (cleared first).
///
/// # Errors
/// The reader's I/O error.
pub async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Line> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                Line::Eof
            } else {
                Line::Complete
            });
        }
        if let Some(newline) = available.iter().position(|&b| b == b'\n') {
            if buf.len() + newline > cap {
                return Ok(Line::TooLong);
            }
            buf.extend_from_slice(&available[..newline]);
            reader.consume(newline + 1);
            return Ok(Line::Complete);
        }
        let taken = available.len();
        if buf.len() + taken > cap {
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(available);
        reader.consume(taken);
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::BufReader;

    use super::*;

    #[tokio::test]
    async fn splits_lines_and_keeps_a_final_partial_one() {
        let data: &[u8] = b"one\ntwo\nthree";
        let mut reader = BufReader::with_capacity(2, data);
        let mut buf = Vec::new();
        for expected in ["one", "two", "three"] {
            assert_eq!(
                read_line_capped(&mut reader, &mut buf, 100).await.unwrap(),
                Line::Complete
            );
            assert_eq!(buf, expected.as_bytes());
        }
        assert_eq!(
            read_line_capped(&mut reader, &mut buf, 100).await.unwrap(),
            Line::Eof
        );
    }

    #[tokio::test]
    async fn a_line_over_the_cap_is_refused() {
        let data = [b"ok\n".as_slice(), &[b'x'; 50], b"\n"].concat();
        let mut reader = BufReader::with_capacity(8, data.as_slice());
        let mut buf = Vec::new();
        assert_eq!(
            read_line_capped(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Complete
        );
        assert_eq!(
            read_line_capped(&mut reader, &mut buf, 10).await.unwrap(),
            Line::TooLong
        );
        let exact: &[u8] = b"0123456789\n";
        let mut reader = BufReader::new(exact);
        assert_eq!(
            read_line_capped(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Complete
        );
    }
}
