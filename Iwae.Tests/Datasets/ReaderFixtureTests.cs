using Iwae.Datasets;

namespace Iwae.Tests.Datasets;

/// <summary>
/// The readers on files written by numpy 1.24 and scipy 1.10 themselves (Iwae.Tests/fixtures, made by
/// make_reader_fixtures.py, copied next to the test assembly): the values are the script's formulas.
/// </summary>
public class ReaderFixtureTests
{
    private static string Fixture(string name)
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", name);
        Assert.That(File.Exists(path), Is.True, $"{path} is copied to the test output (Iwae.Tests.csproj)");
        return path;
    }

    // (i, j) = (4 i + j) / 4 - 1, a 3 x 4 float32.
    private static readonly float[] F4 = Enumerable.Range(0, 12).Select(k => k / 4f - 1).ToArray();

    // MAT 'data' and ref.csv: a 4 x 3 matrix with (i, j) = 10 i + j.
    private static readonly float[] TenIPlusJ = Enumerable.Range(0, 12).Select(k => 10f * (k / 3) + k % 3).ToArray();

    private static void AssertArray(DataArray a, string name, int rows, int cols, string dtype, float[] values)
    {
        Assert.That((a.Name, a.Rows, a.Cols, a.DType), Is.EqualTo((name, rows, cols, dtype)));
        Assert.That(a.Values, Is.EqualTo(values).AsCollection);
    }

    [TestCase("ref_f4.npy")]
    [TestCase("ref_f4_v2.npy")]
    [TestCase("ref_f4_v3.npy")]
    public void Npy_Float32_AllFormatVersions(string file)
        => AssertArray(NpyReader.Read(Fixture(file)), file, 3, 4, "float32", F4);

    [Test]
    public void Npy_OtherTypesOrdersAndShapes()
    {
        AssertArray(NpyReader.Read(Fixture("ref_f8_fortran.npy")), "ref_f8_fortran.npy", 2, 3, "float64", [1.5f, -2f, 3.25f, 4f, 5f, -6.5f]);
        AssertArray(NpyReader.Read(Fixture("ref_u1_3d.npy")), "ref_u1_3d.npy", 2, 12, "uint8",
            Enumerable.Range(0, 24).Select(k => (float)(k * 10 % 256)).ToArray());
        AssertArray(NpyReader.Read(Fixture("ref_b1.npy")), "ref_b1.npy", 4, 1, "bool", [1, 0, 1, 1]);
        AssertArray(NpyReader.Read(Fixture("ref_i8.npy")), "ref_i8.npy", 1, 3, "int64", [-(1L << 40), 0, 7]);
        AssertArray(NpyReader.Read(Fixture("ref_i4.npy")), "ref_i4.npy", 2, 1, "int32", [-5, 6]);
    }

    [TestCase("ref.npz")]
    [TestCase("ref_compressed.npz")]
    public void Npz_SavezAndSavezCompressed(string file)
    {
        var arrays = NpyReader.ReadNpz(Fixture(file));
        Assert.That(arrays.Select(a => a.Name), Is.EquivalentTo(new[] { "train", "labels" }));
        AssertArray(arrays.Single(a => a.Name == "train"), "train", 3, 4, "float32", F4);
        AssertArray(arrays.Single(a => a.Name == "labels"), "labels", 3, 1, "uint8", [3, 1, 4]);
    }

    [TestCase("ref.mat")]
    [TestCase("ref_compressed.mat")]
    public void Mat_SavematPlainAndCompressed_SkipsCharCellAndStruct(string file)
    {
        var arrays = MatReader.Read(Fixture(file));
        Assert.That(arrays.Select(a => a.Name), Is.EqualTo(new[] { "data", "single", "pix", "counts", "mask" }), "name, langs and info are skipped");
        AssertArray(arrays[0], "data", 4, 3, "float64", TenIPlusJ);
        AssertArray(arrays[1], "single", 2, 2, "float32", [0.5f, -1f, 2f, 3.5f]);
        AssertArray(arrays[2], "pix", 2, 3, "uint8", [0, 128, 255, 1, 2, 3]);
        AssertArray(arrays[3], "counts", 1, 2, "int16", [-7, 8]);
        AssertArray(arrays[4], "mask", 1, 3, "bool", [1, 0, 1]);
        var unsupported = MatReader.ReadFile(Fixture(file)).Unsupported.ToDictionary(v => v.Name, v => v.Kind);
        Assert.That(unsupported.Keys, Is.EquivalentTo(new[] { "name", "langs", "info" }), "listed, so that DataSource can refuse them");
        Assert.That((unsupported["name"], unsupported["langs"], unsupported["info"]), Is.EqualTo(("char array (1x8)", "cell array (1x2)", "struct (1x1)")));
    }

    [Test]
    public void Csv_SavetxtWithHeader()
    {
        var (data, header) = CsvReader.ReadWithHeader(Fixture("ref.csv"));
        Assert.That(header, Is.EqualTo(new[] { "a", "b", "c" }));
        AssertArray(data, "ref.csv", 4, 3, "float64", TenIPlusJ);
    }

    [Test]
    public void Amat_SavetxtCheckerboard()
        => AssertArray(AmatReader.Read(Fixture("ref.amat")), "ref.amat", 3, 8, "float64",
            Enumerable.Range(0, 24).Select(k => (float)((k / 8 + k % 8) % 2)).ToArray());
}
