using System.Text;

namespace MlPipelines.Tests.Support;

/// <summary>Runs <c>mlpipe</c> in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, byte[] StdoutBytes, string Stderr)
    {
        public string Stdout => Encoding.UTF8.GetString(StdoutBytes);
    }

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs <c>mlpipe</c> with <paramref name="stdin"/> as its standard input (null: empty).</summary>
    public static Result RunWithInput(string? stdin, params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stderr = new StringWriter();
        int code = MlPipelines.Cli.Program.Run(args, stdout, stderr, new StringReader(stdin ?? ""));
        return new Result(code, stdout.ToArray(), stderr.ToString());
    }
}
