using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Tests.Formats;

public class ModelShapesTests
{
    [Theory]
    [InlineData("15m", 288, 768, 6, 6, 6, 256)]
    [InlineData("42m", 512, 1376, 8, 8, 8, 1024)]
    [InlineData("110m", 768, 2048, 12, 12, 12, 1024)]
    [InlineData("110M", 768, 2048, 12, 12, 12, 1024)]
    public void Get_ReturnsTheTinyStoriesShapes(string name, int dim, int hidden, int layers, int heads, int kvHeads, int seqLen)
    {
        var c = ModelShapes.Get(name);
        Assert.Equal((dim, hidden, layers, heads, kvHeads, 32000, seqLen),
            (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.MaxSequenceLength));
        Assert.True(c.SharedClassifier);
    }

    [Fact]
    public void Get_UnknownNameListsTheKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelShapes.Get("7b"));
        Assert.Contains("'7b'", ex.Message);
        Assert.Contains("15m, 42m, 110m", ex.Message);
        Assert.Equal("name", ex.ParamName);
        Assert.False(ModelShapes.TryGet("7b", out _));
    }

    [Fact]
    public void Names_AreAllResolvable()
    {
        Assert.Equal(["15m", "42m", "110m", "llama3-1b"], ModelShapes.Names);
        Assert.All(ModelShapes.Names, n => Assert.NotNull(ModelShapes.Get(n)));
    }

    /// <summary>Llama 3.2 1B's config.json: the shape, RoPE base and scaling, and special ids (context shortened to 8192).</summary>
    [Fact]
    public void Llama3_1b_is_llama_3_2_1b_s_configuration()
    {
        ModelConfig c = ModelShapes.Get("llama3-1b");
        Assert.Equal((2048, 8192, 16, 32, 8, 128256, 8192), (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.MaxSequenceLength));
        Assert.Equal((64, true, 500000f, 128000, 128001), (c.HeadDim, c.SharedClassifier, c.RopeTheta, c.BosId, c.EosId));
        Assert.Equal(new RopeScaling { Kind = RopeScalingKind.Llama3, Factor = 32f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 8192 }, c.RopeScaling);
        Assert.Equal([128008, 128009], c.StopIds);
    }
}
