using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

public class TokenizerLoaderTests
{
    [Fact]
    public void Detects_each_kind_by_content()
    {
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(TestPaths.Tok512Bin, 512));
        Assert.IsType<SentencePieceModelTokenizer>(TokenizerLoader.Load(TestPaths.Tok512Model, 512));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(TestPaths.Llama2TokenizerBin, 32000));
        Assert.IsType<SentencePieceModelTokenizer>(TokenizerLoader.Load(TestPaths.Llama2TokenizerModel, 32000));

        // Misleading or missing extensions do not matter.
        using var dir = new TempDir();
        File.Copy(TestPaths.Tok512Model, dir.File("model-as.bin"));
        File.Copy(TestPaths.Tok512Bin, dir.File("bin-as.model"));
        File.Copy(TestPaths.Tok512Bin, dir.File("noext"));
        Assert.IsType<SentencePieceModelTokenizer>(TokenizerLoader.Load(dir.File("model-as.bin")));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.File("bin-as.model")));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.File("noext")));
    }

    [Fact]
    public void A_bin_whose_header_looks_like_a_proto_tag_still_loads()
    {
        // max_token_length 10 starts the file with 0x0A, the tag a ModelProto starts with.
        var tokens = TokenizerFileWriter.WithSpecials([(" ", -1), ("a", -2), ("abcdefghij", -3)]);
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.bin"), TokenizerFileWriter.TokenizerBin(tokens, maxTokenLength: 10));
        File.WriteAllBytes(dir.File("tokenizer"), TokenizerFileWriter.TokenizerBin(tokens, maxTokenLength: 10));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.File("tokenizer.bin")));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.File("tokenizer")));
    }

    [Fact]
    public void Missing_file_is_reported()
    {
        Assert.Throws<FileNotFoundException>(() => TokenizerLoader.Load("/no/such/tokenizer.bin"));
        Assert.Throws<ArgumentException>(() => TokenizerLoader.Load(""));
    }

    [Fact]
    public void FindBeside_prefers_the_documented_order()
    {
        using var dir = new TempDir();
        string model = dir.File("model.bin");
        File.WriteAllText(model, "weights");
        Assert.Null(TokenizerLoader.FindBeside(model, 512));
        string[] names = ["tok512.model", "tok512.bin", "tokenizer.model", "tokenizer.bin"];
        foreach (string name in names)
        {
            File.WriteAllText(dir.File(name), "x");
            Assert.Equal(dir.File(name), TokenizerLoader.FindBeside(model, 512));
            Assert.Equal(dir.File(name), TokenizerLoader.FindBeside(dir.Path, 512));
        }
        File.Delete(dir.File("tokenizer.bin"));
        File.Delete(dir.File("tokenizer.model"));
        Assert.Equal(dir.File("tok512.bin"), TokenizerLoader.FindBeside(model, 512));
        Assert.Null(TokenizerLoader.FindBeside(model, 32000)); // tok512.* belong to another vocabulary size
        Assert.Equal(TestPaths.Tok512Bin, TokenizerLoader.FindBeside(TestPaths.Stories260K, 512));
    }
}
