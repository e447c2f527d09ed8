using MlPipelines.Tests.Support;

namespace MlPipelines.Fuzz.Tests;

/// <summary>
/// Every input fuzzing found that broke the contract, minimised, under tests/data/fuzz/&lt;target&gt;/ (see its
/// README.md): each now fails with the target's documented exception, whose message names the file.
/// </summary>
public class RegressionTests(SeedFilesFixture f) : IClassFixture<SeedFilesFixture>
{
    public static string Folder => Path.Combine(TestPaths.RepoRoot, "tests", "data", "fuzz");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in Directory.GetDirectories(Folder).Order())
            foreach (string file in Directory.GetFiles(target).Where(p => !p.EndsWith(".md", StringComparison.Ordinal)).Order())
                data.Add(Path.GetFileName(target), Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_once_crashing_input_fails_with_the_documented_exception(string targetName, string file)
    {
        FuzzTarget target = FuzzTargets.Get(targetName);
        using var scratch = new ScratchDirectory(targetName);
        target.Prepare(scratch, f.Seeds);
        byte[] input = File.ReadAllBytes(Path.Combine(Folder, targetName, file));
        Exception? failure = Record.Exception(() => target.Run(input, scratch));
        Assert.NotNull(failure);
        Assert.True(FuzzContract.Check(target, failure, scratch) is null, $"{failure.GetType().FullName}: {failure.Message}\n{failure.StackTrace}");
    }

    /// <summary>The model-file regressions as <c>mlpipe</c> meets them: one error line naming the file, exit code 1.</summary>
    [Theory]
    [InlineData("safetensors", "invalid-utf8-tensor-name.bin")]
    [InlineData("safetensors", "unpaired-surrogate-tensor-name.bin")]
    [InlineData("hf-config", "invalid-utf8-model-type.json")]
    [InlineData("hf-config", "unpaired-surrogate-architecture.json")]
    [InlineData("tokenizer-json", "invalid-utf8-vocabulary-entry.json")]
    [InlineData("tokenizer-json", "post-processor-id-beyond-vocabulary.json")]
    public void Mlpipe_reports_a_once_crashing_file_in_one_line(string targetName, string file)
    {
        using var dir = new TempDir();
        byte[] input = File.ReadAllBytes(Path.Combine(Folder, targetName, file));
        string tokenizer = Path.Combine(TestPaths.Models, "stories260K", "tok512.model");
        string[] command;
        string named;
        if (targetName == "tokenizer-json")
        {
            named = dir.File("tokenizer.json");
            File.WriteAllBytes(named, input);
            command = ["tokenize", "--tokenizer", named, "--text", "ab"];
        }
        else
        {
            string weights = Path.Combine(TestPaths.Models, "stories260K-hf");
            File.Copy(Path.Combine(weights, "config.json"), dir.File("config.json"));
            File.Copy(Path.Combine(weights, "model.safetensors"), dir.File("model.safetensors"));
            named = dir.File(targetName == "safetensors" ? "model.safetensors" : "config.json");
            File.WriteAllBytes(named, input);
            command = ["generate", "--model", dir.Path, "--tokenizer", tokenizer, "-n", "3"];
        }
        CliRunner.Result result = CliRunner.Run(command);
        Assert.Equal(1, result.ExitCode);
        string error = result.Stderr.TrimEnd('\n', '\r');
        Assert.StartsWith("mlpipe: error: ", error);
        Assert.DoesNotContain('\n', error);
        Assert.Contains(named, error);
    }

    [Fact]
    public void Every_target_folder_names_a_target()
    {
        foreach (string target in Directory.GetDirectories(Folder))
            FuzzTargets.Get(Path.GetFileName(target));
    }
}
