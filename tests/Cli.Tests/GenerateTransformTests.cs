using Microsoft.ML;
using MlPipelines.Pipelines.Tests.Transforms;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>The ML.NET generate transform prints what <c>mlpipe generate</c> prints for the same prompt.</summary>
public class GenerateTransformTests
{
    [Fact]
    public void Greedy_completion_continues_the_prompt_as_the_generator_does()
    {
        var ml = new MLContext(seed: 0);
        IDataView data = TextRows.Load(ml, ["Once upon a time"]);
        string completion = TextRows.Column<ReadOnlyMemory<char>>(
            ml.Transforms.Text.GenerateWithLlama(LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin), "Out", "Text", new LlamaGenerateOptions { MaxNewTokens = 30 })
                .Fit(data).Transform(data), "Out")[0].ToString();
        var cli = CliRunner.Run("generate", "--model", TestPaths.Stories260K, "-z", TestPaths.Tok512Bin, "-t", "0", "-i", "Once upon a time", "-n", "34");
        Assert.Equal(cli.Stdout.TrimEnd('\n'), "Once upon a time" + completion);
    }
}
