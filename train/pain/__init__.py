"""Pain expression (seed 001): frozen CNN features + SVM / KNN / logistic regression / DNN heads."""
