using System.Text;
using Spectre.Console;

namespace MlPipelines.Cli;

/// <summary>
/// The streams a command writes to: raw bytes (generated text must reach the terminal byte for byte,
/// as llama2.c writes it) and text (everything else) on the same standard output.
/// </summary>
internal sealed class CliConsole
{
    public CliConsole(Stream stdout, TextWriter stderr, TextReader? stdin = null)
    {
        In = stdin ?? Console.In;
        Raw = stdout;
        Out = new StreamWriter(stdout, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: true);
        Error = stderr;
    }

    /// <summary>Standard input (the user's turns in <c>mlpipe chat</c>).</summary>
    public TextReader In { get; }

    /// <summary>Standard output as bytes. Flush <see cref="Out"/> before writing here.</summary>
    public Stream Raw { get; }

    /// <summary>Standard output as text.</summary>
    public StreamWriter Out { get; }

    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }

    /// <summary>True when standard output is a terminal (not redirected, and not a test's stream).</summary>
    public bool IsTerminal => Raw is not MemoryStream && !Console.IsOutputRedirected;

    /// <summary>A Spectre.Console writer on standard output: colours on a terminal, plain text otherwise.</summary>
    public IAnsiConsole CreateAnsiConsole() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Out),
        Ansi = IsTerminal ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = IsTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        Interactive = IsTerminal ? InteractionSupport.Detect : InteractionSupport.No,
    });

    /// <summary>
    /// Errors caused by what the user supplied (files, arguments): reported as one line, not a stack trace.
    /// </summary>
    public static bool IsUserError(Exception e) =>
        e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException
            or NotSupportedException or IOException or UnauthorizedAccessException or FormatException
            or MlPipelines.OnnxEngine.ExecutionProviderUnavailableException
            or MlPipelines.ChatTemplates.ChatTemplateException;   // a template refusing a conversation, with its own message
}
