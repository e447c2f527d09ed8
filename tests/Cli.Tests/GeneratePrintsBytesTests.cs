using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// <c>mlpipe generate</c> writes every byte of a SentencePiece vocabulary's byte-fallback tokens, so a character split
/// across tokens (an emoji) comes out whole, as llama.cpp prints it; run.c's filter of lone bytes is for llama2.c's own
/// tokenizer files only.
/// </summary>
public class GeneratePrintsBytesTests
{
    [Fact]
    public void An_emoji_split_into_byte_tokens_is_printed_whole()
    {
        using var dir = new TempDir();
        string model = dir.File("m.gguf");
        var synth = CliRunner.Run("synth", "--format", "gguf", "-o", model, "--tokenizer", TestPaths.Llama2TokenizerModel,
            "--dim", "64", "--hidden", "160", "--layers", "1", "--heads", "4", "--vocab", "32000", "--seq", "64");
        Assert.True(synth.ExitCode == 0, synth.Stderr);
        // The prompt is echoed token by token; 🦊 is four byte-fallback tokens in Llama 2's vocabulary.
        var run = CliRunner.Run("generate", "--model", model, "-i", "A fox 🦊 runs", "-t", "0", "-n", "12");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.StartsWith("A fox 🦊 runs", run.Stdout);
    }
}
