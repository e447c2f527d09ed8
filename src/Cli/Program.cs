using System.CommandLine;
using MlPipelines.Cli.Commands;

namespace MlPipelines.Cli;

/// <summary>The <c>mlpipe</c> command line.</summary>
public static class Program
{
    /// <summary>Process entry point.</summary>
    public static int Main(string[] args)
    {
        using Stream stdout = Console.OpenStandardOutput();
        return Run(args, stdout, Console.Error);
    }

    /// <summary>
    /// Runs the command line against the given streams (tests call this in-process). Generated text is
    /// written to <paramref name="stdout"/> as raw bytes, exactly as llama2.c prints them.
    /// </summary>
    public static int Run(string[] args, Stream stdout, TextWriter stderr) => Run(args, stdout, stderr, stdin: null);

    /// <summary>As <see cref="Run(string[], Stream, TextWriter)"/>, reading standard input from <paramref name="stdin"/> (null: the console's).</summary>
    public static int Run(string[] args, Stream stdout, TextWriter stderr, TextReader? stdin)
    {
        var console = new CliConsole(stdout, stderr, stdin);
        var root = new RootCommand("mlpipe — LLaMA-family language models in .NET data pipelines.")
        {
            GenerateCommand.Create(console),
            ChatCommand.Create(console),
            TokenizeCommand.Create(console),
            SynthCommand.Create(console),
            ExportCommand.Create(console),
            QuantizeCommand.Create(console),
            DemoCommand.Create(console),
            ParityCommand.Create(console),
            EmbedCommand.Create(console),
            BenchCommand.Create(console),
            PullCommand.Create(console),
            ServeCommand.Create(console),
            SiloCommand.Create(console),
        };
        var invocation = new InvocationConfiguration
        {
            Output = console.Out,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return root.Parse(args).Invoke(invocation);
        }
        catch (Exception e) when (CliConsole.IsUserError(e))
        {
            console.Out.Flush();
            stderr.WriteLine($"mlpipe: error: {OneLine(LibraryTerms.ToFlags(e.Message))}");
            return 1;
        }
        finally
        {
            console.Out.Flush();
        }
    }

    /// <summary>
    /// The message on one line: some quote the file they reject (System.Text.Json's show the offending text, which may
    /// span lines), and an error is one line.
    /// </summary>
    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
