using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tests.Formats.Gguf;
using MlPipelines.ManagedEngine.Tests.Formats.Safetensors;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Loading;

/// <summary>Format detection, and one model in its three forms (llama2.c, Hugging Face, GGUF) through the one entry point.</summary>
public class ModelSourceTests
{
    private static string TinyGgufPath => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");
    private static string Stories260KQ80 => Path.Combine(TestPaths.Models, "stories260K", "stories260K_q80.bin");

    [Fact]
    public void Formats_are_detected_from_content_and_directory_layout()
    {
        Assert.Equal(ModelFormat.Llama2c, ModelSource.Detect(TestPaths.Stories260K).Format);
        Assert.Equal(ModelFormat.Llama2cInt8, ModelSource.Detect(Stories260KQ80).Format);
        Assert.Equal(ModelFormat.Gguf, ModelSource.Detect(TinyGgufPath).Format);

        var hf = ModelSource.Detect(HfModelFiles.Stories260KHf);
        Assert.Equal(ModelFormat.HuggingFace, hf.Format);
        Assert.Equal(hf, ModelSource.Detect(Path.Combine(HfModelFiles.Stories260KHf, "model.safetensors")));
        Assert.Equal(["config.json", "model.safetensors"], hf.Files().Select(Path.GetFileName));

        // Directories: the llama2.c file named after the directory, or its single GGUF file.
        var stories = ModelSource.Detect(Path.GetDirectoryName(TestPaths.Stories260K)!);
        Assert.Equal((ModelFormat.Llama2c, TestPaths.Stories260K), (stories.Format, stories.Path));
        var tiny = ModelSource.Detect(Path.GetDirectoryName(TinyGgufPath)!);
        Assert.Equal((ModelFormat.Gguf, TinyGgufPath), (tiny.Format, tiny.Path));
    }

    [Fact]
    public void A_directory_without_a_model_or_with_two_gguf_files_is_a_clear_error()
    {
        using var dir = new TempDir();
        var none = Assert.Throws<FileNotFoundException>(() => ModelSource.Detect(dir.Path));
        Assert.Contains("holds no model", none.Message);
        Assert.Contains("config.json", none.Message);

        File.Copy(TinyGgufPath, dir.File("a.gguf"));
        File.Copy(TinyGgufPath, dir.File("b.gguf"));
        var two = Assert.Throws<InvalidDataException>(() => ModelSource.Detect(dir.Path));
        Assert.Contains("2 GGUF files", two.Message);

        Assert.Throws<FileNotFoundException>(() => ModelSource.Detect(dir.File("absent")));
    }

    [Fact]
    public void An_int8_checkpoint_has_no_fp32_weights_to_load()
    {
        var ex = Assert.Throws<NotSupportedException>(() => ModelSource.Detect(Stories260KQ80).LoadWeights());
        Assert.Contains("int8", ex.Message);
        Assert.Equal(64, ModelSource.Detect(Stories260KQ80).ReadConfig().Dim);
    }

    [Fact]
    public void The_llama2c_Hugging_Face_and_GGUF_forms_of_one_model_give_the_same_logits()
    {
        using var dir = new TempDir();
        string gguf = Stories260KGguf.Build(GgufTestWriter.F32).WriteTo(dir.File("stories260K.gguf"));
        int[] prompt = TokenizerLoader.Load(TestPaths.Tok512Model).Encode("Once upon a time, there was a little fox who", addBos: true, addEos: false);

        float[] reference = LastLogits(TestPaths.Stories260K, prompt);
        Assert.Equal(reference, LastLogits(HfModelFiles.Stories260KHf, prompt));
        Assert.Equal(reference, LastLogits(gguf, prompt));
    }

    [Fact]
    public void The_tokenizer_of_each_form_is_found_from_the_model()
    {
        Assert.Equal(TinyGgufPath, ResolvedModel.Resolve(TinyGgufPath).TokenizerFile);
        var stories = ResolvedModel.Resolve(TestPaths.Stories260K);
        Assert.Equal(TestPaths.Tok512Bin, stories.TokenizerFile);
        Assert.Equal(512, stories.Config.VocabSize);

        // A GGUF named as the tokenizer of another model gives its embedded tokenizer.
        var tokenizer = ManagedModelLoader.LoadTokenizer(TinyGgufPath, TestPaths.Stories260K);
        Assert.Equal(32000, tokenizer.VocabularySize);

        // stories260K-hf ships no tokenizer: the error says what was looked for and how to name one.
        var ex = Assert.Throws<FileNotFoundException>(() => ResolvedModel.Resolve(HfModelFiles.Stories260KHf).TokenizerFile);
        Assert.Contains("tokenizer.model", ex.Message);
        Assert.Contains("the tokenizer explicitly", ex.Message);
    }

    private static float[] LastLogits(string model, int[] prompt)
    {
        using TransformerModel m = ManagedModelLoader.LoadModel(model, threads: 1);
        using var session = m.CreateSession();
        var logits = new float[m.Config.VocabSize];
        session.Forward(prompt, 0, logits, default);
        return logits;
    }
}
