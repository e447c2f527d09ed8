using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

public class HuggingFaceLoaderTests
{
    [Fact]
    public void Tokenizer_json_is_recognised_by_content()
    {
        using var dir = new TempDir();
        File.Copy(Llama3Files.TokenizerJson, dir.File("vocab.data"));
        var tok = Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(dir.File("vocab.data"), expectedVocabSize: 128256));
        Assert.Equal(Llama3Files.Tokenizer.Encode("Hello world", false, false), tok.Encode("Hello world", false, false));
        Assert.Equal(-1, tok.BosId); // no tokenizer_config.json beside this copy
        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(Llama3Files.TokenizerJson, expectedVocabSize: 32000));
        Assert.Contains("128256", ex.Message);
    }

    [Fact]
    public void FindBeside_takes_tokenizer_json_only_without_a_tokenizer_model()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        Assert.Null(TokenizerLoader.FindBeside(dir.Path, 128256));
        File.Copy(Llama3Files.TokenizerJson, dir.File("tokenizer.json"));
        Assert.Equal(dir.File("tokenizer.json"), TokenizerLoader.FindBeside(dir.Path, 128256));
        Assert.Equal(dir.File("tokenizer.json"), TokenizerLoader.FindBeside(dir.File("model.safetensors"), 128256));
        File.Copy(TestPaths.Llama2TokenizerModel, dir.File("tokenizer.model"));
        Assert.Equal(dir.File("tokenizer.model"), TokenizerLoader.FindBeside(dir.Path, 32000));
        Assert.IsType<SentencePieceModelTokenizer>(TokenizerLoader.Load(TokenizerLoader.FindBeside(dir.Path, 32000)!));
    }
}
