using System.Text;

namespace MlPipelines.Cli;

/// <summary>
/// The streams a command writes to: raw bytes (generated text must reach the terminal byte for byte,
/// as llama2.c writes it) and text (everything else) on the same standard output.
/// </summary>
internal sealed class CliConsole
{
    public CliConsole(Stream stdout, TextWriter stderr)
    {
        Raw = stdout;
        Out = new StreamWriter(stdout, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: true);
        Error = stderr;
    }

    /// <summary>Standard output as bytes. Flush <see cref="Out"/> before writing here.</summary>
    public Stream Raw { get; }

    /// <summary>Standard output as text.</summary>
    public StreamWriter Out { get; }

    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }

    /// <summary>
    /// Errors caused by what the user supplied (files, arguments): reported as one line, not a stack trace.
    /// </summary>
    public static bool IsUserError(Exception e) =>
        e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException
            or NotSupportedException or IOException or UnauthorizedAccessException or FormatException
            or MlPipelines.Pipelines.Onnx.ExecutionProviderUnavailableException;
}
