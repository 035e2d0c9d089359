// Empty: `pulumi import` prints the code that goes here.
export {};
