using System.Text.Json;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// A Llama-3-shaped model end to end: `synth --shape llama3-1b --format hf` (narrowed in width and depth, but with Llama 3's
/// vocabulary of 128256, grouped-query attention, RoPE base 500000 with llama3 scaling, tied embeddings) beside the real
/// Llama 3 tokenizer.json and tokenizer_config.json, exported to ONNX and compared with the managed engine.
/// </summary>
public class Llama3ShapeTests
{
    [Fact]
    public void Both_engines_agree_to_fp32_rounding_and_chat_prints_the_llama3_prompt()
    {
        using var dir = new TempDir();
        string model = dir.File("llama3"), onnx = dir.File("onnx"), prompts = dir.File("prompts.txt"), json = dir.File("report.json");
        var synth = CliRunner.Run("synth", "--shape", "llama3-1b", "--format", "hf", "-o", model,
            "--dim", "128", "--hidden", "256", "--layers", "2", "--heads", "4", "--kv-heads", "1", "--seq", "256");
        Assert.True(synth.ExitCode == 0, synth.Stderr);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(TestPaths.Models, "llama3-tokenizer", file), Path.Combine(model, file));

        Assert.Equal(0, CliRunner.Run("export", "--model", model, "--out", onnx).ExitCode);
        File.WriteAllText(prompts, "Once upon a time\nThe quick brown fox 🦊 jumps\n");
        var parity = CliRunner.Run("parity", "--model", model, "--onnx", onnx, "--prompts", prompts, "--steps", "40", "--json", json);
        Assert.True(parity.ExitCode == 0, parity.Stdout + parity.Stderr);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        Assert.InRange(report.RootElement.GetProperty("maxAbsLogitDiff").GetDouble(), 0, 1e-5);   // fp32 rounding, not 1e-4

        string messages = dir.File("m.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "Hi!"}]""");
        var prompt = CliRunner.Run("chat", "--model", model, "--messages", messages, "--print-prompt");
        Assert.True(prompt.ExitCode == 0, prompt.Stderr);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt.Stdout);
    }
}
