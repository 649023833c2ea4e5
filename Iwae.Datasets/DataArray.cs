namespace Iwae.Datasets;

/// <summary>
/// A 2-D numeric array read from a file: <see cref="Rows"/> x <see cref="Cols"/> values, row-major
/// (element (i, j) is <c>Values[i * Cols + j]</c>), converted to float without any scaling (a uint8 255
/// stays 255f, a bool true is 1f).
/// </summary>
/// <param name="Name">The array's name inside the file (an .npz member without ".npy", a MAT variable
/// name), or the file name (without folder) for files that hold a single array (.npy, CSV, .amat).</param>
/// <param name="Rows">Number of rows.</param>
/// <param name="Cols">Number of columns.</param>
/// <param name="Values">Rows * Cols values, row-major.</param>
/// <param name="DType">The source element type as numpy names it: "float32", "float64", "uint8", "bool",
/// "int64", ... Text formats report "float64", the type numpy's loadtxt would give.</param>
/// <param name="Rank">How many dimensions the array has in its file: 1 for numpy's (N,), read as N x 1; 3 for
/// (N, H, W), read as N x (H*W); 2 for the rest (MAT matrices and text tables are always 2-D).</param>
/// <param name="Lines">For a text file, the line each row was read from (1-based, header and blank lines counted);
/// null for binary formats, whose rows are numbered 1..Rows.</param>
public sealed record DataArray(string Name, int Rows, int Cols, float[] Values, string DType, int Rank = 2, int[]? Lines = null);
