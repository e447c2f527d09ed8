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
        foreach (string source in new[] { model, onnx })   // the export carries tokenizer_config.json and its template
        {
            var prompt = CliRunner.Run("chat", "--model", source, "--messages", messages, "--print-prompt");
            Assert.True(prompt.ExitCode == 0, prompt.Stderr);
            Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt.Stdout);
        }
    }

    /// <summary>
    /// The same shape as one GGUF file with the Llama 3 vocabulary and chat template inside (as llama.cpp's converter writes
    /// it): the managed engine reads it, the exporter turns it into ONNX with a tokenizer.json and tokenizer_config.json,
    /// and both engines agree; the chat prompt comes from the GGUF's template.
    /// </summary>
    [Fact]
    public void Gguf_form_carries_vocabulary_and_template_and_both_engines_agree()
    {
        using var dir = new TempDir();
        string model = dir.File("llama3.gguf"), onnx = dir.File("onnx"), prompts = dir.File("prompts.txt"), json = dir.File("report.json");
        var synth = CliRunner.Run("synth", "--shape", "llama3-1b", "--format", "gguf", "-o", model, "--dim", "128", "--hidden", "256",
            "--layers", "2", "--heads", "4", "--kv-heads", "1", "--seq", "256",
            "--tokenizer", Path.Combine(TestPaths.Models, "llama3-tokenizer", "tokenizer.json"));
        Assert.True(synth.ExitCode == 0, synth.Stderr);

        Assert.Equal(0, CliRunner.Run("export", "--model", model, "--out", onnx).ExitCode);
        Assert.True(File.Exists(Path.Combine(onnx, "tokenizer.json")) && File.Exists(Path.Combine(onnx, "tokenizer_config.json")));
        File.WriteAllText(prompts, "Once upon a time\nThe quick brown fox 🦊 jumps\n");
        var parity = CliRunner.Run("parity", "--model", model, "--onnx", onnx, "--prompts", prompts, "--steps", "40", "--json", json);
        Assert.True(parity.ExitCode == 0, parity.Stdout + parity.Stderr);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        Assert.InRange(report.RootElement.GetProperty("maxAbsLogitDiff").GetDouble(), 0, 1e-5);

        string messages = dir.File("m.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "Hi!"}]""");
        string expected = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        foreach (string source in new[] { model, onnx })
        {
            var prompt = CliRunner.Run("chat", "--model", source, "--messages", messages, "--print-prompt");
            Assert.True(prompt.ExitCode == 0, prompt.Stderr);
            Assert.Equal(expected, prompt.Stdout);
        }
    }

    /// <summary>A head size that is not hidden / heads (Mistral Nemo's kind of shape) in Hugging Face form, through both engines.</summary>
    [Fact]
    public void Explicit_head_dim_runs_on_both_engines()
    {
        using var dir = new TempDir();
        string model = dir.File("wide-heads"), onnx = dir.File("onnx"), prompts = dir.File("prompts.txt"), json = dir.File("report.json");
        var synth = CliRunner.Run("synth", "--format", "hf", "-o", model, "--dim", "64", "--hidden", "128", "--layers", "2",
            "--heads", "4", "--kv-heads", "2", "--head-dim", "24", "--vocab", "512", "--seq", "128");
        Assert.True(synth.ExitCode == 0, synth.Stderr);
        File.Copy(Path.Combine(TestPaths.Models, "stories260K", "tok512.model"), Path.Combine(model, "tokenizer.model"));
        Assert.Equal(0, CliRunner.Run("export", "--model", model, "--out", onnx).ExitCode);
        File.WriteAllText(prompts, "Once upon a time\n");
        var parity = CliRunner.Run("parity", "--model", model, "--onnx", onnx, "--prompts", prompts, "--steps", "30", "--json", json);
        Assert.True(parity.ExitCode == 0, parity.Stdout + parity.Stderr);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(json));
        Assert.InRange(report.RootElement.GetProperty("maxAbsLogitDiff").GetDouble(), 0, 1e-5);

        var llama2c = CliRunner.Run("synth", "-o", dir.File("x.bin"), "--dim", "64", "--hidden", "128", "--layers", "1", "--heads", "4",
            "--head-dim", "24", "--vocab", "512", "--seq", "128");
        Assert.Equal(1, llama2c.ExitCode);
        Assert.Contains("head size 24, which a llama2.c checkpoint cannot record", llama2c.Stderr);
    }
}
