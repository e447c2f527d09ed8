using System.Text.RegularExpressions;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// Library messages name settings in the library's terms (an options type and property); only the CLI speaks of flags,
/// and it translates the library's terms into its flags before printing.
/// </summary>
public partial class LibraryTermsTests
{
    // A flag inside a string literal: "--word". llama2.c's own export script flag is quoted as such, not ours.
    [GeneratedRegex("\"[^\"\\n]*(?<!export\\.py )--[a-z][a-z-]+[^\"\\n]*\"")]
    private static partial Regex FlagInLiteral();

    [Fact]
    public void No_library_message_quotes_a_command_line_flag()
    {
        var offenders = new List<string>();
        foreach (string project in Directory.GetDirectories(Path.Combine(TestPaths.RepoRoot, "src")).Where(d => Path.GetFileName(d) != "Cli"))
            foreach (string file in Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
                         .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")))
                foreach (var (line, number) in File.ReadLines(file).Select((l, i) => (l, i + 1)))
                    if (!line.TrimStart().StartsWith("//", StringComparison.Ordinal) && FlagInLiteral().IsMatch(line))
                        offenders.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, file)}:{number}: {line.Trim()}");
        Assert.Empty(offenders);
    }

    [Theory]
    [InlineData("start over (EmbedJobOptions.Restart).", "start over (--restart).")]
    [InlineData("allow replacing it (OnnxExportOptions.Force).", "allow replacing it (--force).")]
    [InlineData("falling back to the CPU (EngineOptions.FallbackToCpu).", "falling back to the CPU (--fallback-to-cpu).")]
    [InlineData("choose one (EmbedJobOptions.Column).", "choose one (--column).")]
    [InlineData("name the tokenizer explicitly.", "name the tokenizer with --tokenizer.")]
    public void The_cli_translates_library_settings_into_its_flags(string library, string cli) =>
        Assert.Equal(cli, LibraryTerms.ToFlags(library));
}
